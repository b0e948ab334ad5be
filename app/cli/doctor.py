"""``rewardforge doctor``: what this machine gives rewardforge, and what to install
for more. It only looks (the database check opens one connection); it always
exits 0."""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from importlib.metadata import version

from rich.console import Console
from rich.table import Table
from sqlalchemy import text
from sqlalchemy.engine import make_url

from app.config import Settings, get_settings
from app.execution import isolation
from app.execution.cgroup import pids_root
from sandbox.batched import BATCHED_ENV_IDS, unavailable_reason

_RENDER_PROBE = (
    "import mujoco; m = mujoco.MjModel.from_xml_string('<mujoco><worldbody/></mujoco>'); "
    "r = mujoco.Renderer(m, 16, 16); r.render(); print('ok')"
)


@dataclass
class Finding:
    """One line of the report: what was checked, whether it is fine, and the detail."""

    check: str
    ok: bool
    detail: str


def sandbox_findings(settings: Settings) -> list[Finding]:
    """The isolation levels this machine offers, the one in force, and the caps."""
    found = isolation.probe()
    findings = []
    for level in isolation.LEVELS:
        reason = found[level]
        detail = isolation.LEVEL_GIVES[level]
        if reason is not None:
            detail += f"\nunavailable: {reason}\nto get it: {isolation.LEVEL_NEEDS[level]}"
        findings.append(Finding(f"sandbox level {level}", reason is None, detail))
    try:
        level = isolation.resolve(settings.sandbox_level)
        asked = f"REWARDFORGE_SANDBOX_LEVEL={settings.sandbox_level}"
        ok, detail = level != "rlimits", f"{level} ({asked})"
    except isolation.SandboxUnavailable as exc:
        ok, detail = False, str(exc)
    findings.append(Finding("sandbox level in force", ok, detail))
    root = pids_root()
    caps = (
        f"memory {settings.sandbox_memory_mb} MiB (RLIMIT_AS), files up to "
        f"{settings.sandbox_file_size_mb} MiB, {settings.sandbox_max_processes} processes "
        + (f"(pids cgroup under {root})" if root else "(RLIMIT_NPROC: binds only non-root users)")
    )
    findings.append(Finding("sandbox caps", root is not None or os.geteuid() != 0, caps))
    return findings


def rendering_finding() -> Finding:
    """Which MuJoCo offscreen backend renders here (rollout videos need one)."""
    working, failures = [], []
    for backend in ("egl", "osmesa"):
        env = {**os.environ, "MUJOCO_GL": backend, "PYOPENGL_PLATFORM": backend}
        try:
            done = subprocess.run(
                [sys.executable, "-c", _RENDER_PROBE],
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
            )
            if done.returncode == 0:
                working.append(backend)
                continue
            failures.append(f"{backend}: {(done.stderr.strip().splitlines() or ['failed'])[-1]}")
        except subprocess.TimeoutExpired:
            failures.append(f"{backend}: timed out")
    if working:
        return Finding("MuJoCo rendering", True, f"works with MUJOCO_GL={' or '.join(working)}")
    hint = "install libegl1 libegl-mesa0 libgl1-mesa-dri (EGL) or libosmesa6 (OSMesa)"
    return Finding("MuJoCo rendering", False, "\n".join([*failures, hint]))


def postgres_finding() -> Finding:
    """The Postgres driver (psycopg) and, for operators, the psql client."""
    driver = importlib.util.find_spec("psycopg") is not None
    psql = shutil.which("psql")
    detail = f"psycopg {'installed' if driver else 'missing: pip install psycopg[binary]'}; "
    optional = "psql not found (optional: apt-get install postgresql-client)"
    detail += f"psql at {psql}" if psql else optional
    return Finding("Postgres client", driver, detail)


def database_finding(settings: Settings) -> Finding:
    """Whether the configured database answers (the URL is shown without its password)."""
    url = make_url(settings.resolved_database_url)
    shown = url.render_as_string(hide_password=True)
    if url.get_backend_name() == "sqlite" and url.database and not os.path.exists(url.database):
        return Finding("database", True, f"{shown}: not created yet (made on first use)")
    from app.db.session import make_engine

    args = {"connect_timeout": 5} if url.get_backend_name() == "postgresql" else {}
    try:
        engine = make_engine(settings.resolved_database_url, connect_args=args)
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:  # any driver error is a finding, not a crash
        return Finding("database", False, f"{shown}: {type(exc).__name__}: {str(exc)[:300]}")
    return Finding("database", True, f"{shown}: reachable")


def simulator_finding() -> Finding:
    """Whether the batched simulator (``simulator: mujoco_warp``) can run here, and where."""
    reason = unavailable_reason(BATCHED_ENV_IDS[0], "mujoco_warp")
    if reason is not None:
        return Finding("batched simulator", False, f"{reason} (pip install mujoco-warp)")
    versions = f"mujoco-warp {version('mujoco-warp')}, warp-lang {version('warp-lang')}"
    covers = f"covers {', '.join(BATCHED_ENV_IDS)}"
    gpus = isolation.gpu_devices()
    if not gpus:
        where = "no GPU device here: its worlds would run on Warp's CPU backend (slow)"
        return Finding("batched simulator", False, f"{versions}; {where}; {covers}")
    return Finding("batched simulator", True, f"{versions}; GPU devices {gpus[0]}...; {covers}")


def llm_finding(settings: Settings) -> Finding:
    """Which proposer runs: a configured model, or the offline one (no request is sent)."""
    if not settings.llm_model:
        return Finding(
            "LLM", True, "offline proposer (set REWARDFORGE_LLM_MODEL to use a language model)"
        )
    where = settings.llm_base_url or "the OpenAI API"
    key = "API key set" if settings.resolved_llm_api_key else "no API key set"
    return Finding("LLM", True, f"{settings.llm_model} at {where} ({key})")


def doctor() -> None:
    """Check the sandbox, MuJoCo rendering, Postgres, the database and the LLM."""
    settings = get_settings()
    findings = [
        *sandbox_findings(settings),
        rendering_finding(),
        postgres_finding(),
        database_finding(settings),
        llm_finding(settings),
        simulator_finding(),
    ]
    table = Table(title="rewardforge doctor", show_lines=True)
    for column in ("check", "", "detail"):
        table.add_column(column)
    for f in findings:
        table.add_row(f.check, "[green]ok[/]" if f.ok else "[yellow]--[/]", f.detail)
    Console().print(table)
