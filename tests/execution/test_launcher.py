"""The launcher against misbehaving sandboxes: stuck, stalled, cancelled, noisy,
crashing, reading secrets from the environment, planting links; and each
isolation level this machine offers. (tests/sandbox/test_hostile.py holds the
full set of attacks.)"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from app.execution.isolation import LEVELS, probe, strongest
from app.execution.launcher import (
    LOG_TAIL_BYTES,
    WARP_CACHE_DIR,
    SandboxPolicy,
    build_command,
    launch_training,
)
from tests.sandbox.jobs import pendulum_job


def _launch(out: Path, reward_code: str, **limits):
    train, _ = pendulum_job(out, reward_code=reward_code)
    limits.setdefault("deadline_s", 120.0)
    limits.setdefault("heartbeat_timeout_s", None)
    return launch_training(train, **limits)


def _reward(body: str) -> str:
    lines = "\n".join(f"    {line}" for line in body.strip().splitlines())
    return (
        f"import json, os, subprocess, sys, time\n\ndef compute_reward(state, action):\n{lines}\n"
    )


def _alive_in(directory: Path) -> list[int]:
    """Live processes (not zombies) whose working directory is inside ``directory``."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            cwd = os.readlink(entry / "cwd")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if Path(cwd).is_relative_to(directory) and state != "Z":
            found.append(int(entry.name))
    return found


def test_deadline_kills_a_reward_stuck_in_a_loop(tmp_path: Path) -> None:
    outcome = _launch(tmp_path, _reward("while True:\n    pass"), deadline_s=8.0)
    assert (outcome.status, outcome.error_kind) == ("failed", "deadline")
    assert 8.0 <= outcome.seconds < 15.0
    assert "deadline" in outcome.error
    assert outcome.sandbox_level == strongest()


def test_heartbeat_timeout_kills_a_stalled_worker(tmp_path: Path) -> None:
    outcome = _launch(tmp_path, _reward("time.sleep(600)"), heartbeat_timeout_s=5.0)
    assert (outcome.status, outcome.error_kind) == ("failed", "heartbeat")
    assert outcome.seconds < 60.0


def test_cancel_kills_the_whole_tree_including_children_in_their_own_session(
    tmp_path: Path,
) -> None:
    spawn = _reward(
        """
in_group = subprocess.Popen(["sleep", "600"])
own_session = subprocess.Popen(["sleep", "600"], start_new_session=True)
with open("children.json", "w") as fh:
    json.dump([in_group.pid, own_session.pid], fh)
while True:
    pass
"""
    )
    children = tmp_path / "children.json"
    outcome = _launch(tmp_path, spawn, should_cancel=children.exists)
    assert (outcome.status, outcome.error_kind) == ("cancelled", "cancelled")
    assert len(json.loads(children.read_text())) == 2  # both children had started
    deadline = time.monotonic() + 5
    while _alive_in(tmp_path) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _alive_in(tmp_path) == []


def test_sandbox_sees_an_empty_environment(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("REWARDFORGE_DATABASE_URL", "postgresql://user:secret@db/rewardforge")
    monkeypatch.setenv("REWARDFORGE_LLM_API_KEY", "sk-secret")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret")
    snoop = _reward(
        """
with open("env_seen.json", "w") as fh:
    json.dump({"env": dict(os.environ), "isolated": sys.flags.isolated}, fh)
return 0.0, {}
"""
    )
    outcome = _launch(tmp_path, snoop)
    assert (outcome.status, outcome.error_kind) == ("invalid", "smoke")
    seen = json.loads((tmp_path / "env_seen.json").read_text())
    allowed = set(build_command("sandbox.train", tmp_path / "spec.json", tmp_path).env)
    # Python's locale coercion and gymnasium's pygame import add these two themselves.
    assert set(seen["env"]) - allowed <= {"LC_CTYPE", "PYGAME_HIDE_SUPPORT_PROMPT"}
    assert seen["env"]["HOME"] == str(tmp_path)
    assert seen["isolated"] == 1
    assert "secret" not in json.dumps(seen)


def test_warp_kernel_cache_is_the_candidates_own_and_writable(tmp_path: Path) -> None:
    """MuJoCo Warp writes compiled kernels to WARP_CACHE_PATH: inside this sandbox's
    output, never a cache another candidate's kernels are loaded from."""
    write_cache = _reward(
        """
cache = os.environ["WARP_CACHE_PATH"]
os.makedirs(cache, exist_ok=True)
with open(os.path.join(cache, "kernel.bin"), "w") as fh:
    fh.write("compiled")
return 0.0, {}
"""
    )
    outcome = _launch(tmp_path, write_cache)
    assert (outcome.status, outcome.error_kind) == ("invalid", "smoke")
    assert (tmp_path / WARP_CACHE_DIR / "kernel.bin").read_text() == "compiled"
    command = build_command("sandbox.train", tmp_path / "spec.json", tmp_path)
    assert command.env["WARP_CACHE_PATH"] == str(tmp_path / WARP_CACHE_DIR)


def test_output_is_kept_to_its_last_64_kib(tmp_path: Path) -> None:
    noisy = _reward('sys.stdout.write("x" * 300_000 + "THE END")\nsys.stdout.flush()\nreturn 0')
    outcome = _launch(tmp_path, noisy)
    assert outcome.status == "invalid"
    log = (tmp_path / "train.stdout.log").read_text()
    assert log.endswith("THE END")
    assert "earlier bytes dropped" in log
    assert len(log.encode()) <= LOG_TAIL_BYTES + 100


def test_exit_without_a_result_is_a_crash_with_stderr(tmp_path: Path) -> None:
    crash = _reward('sys.stderr.write("about to vanish\\n")\nsys.stderr.flush()\nos._exit(7)')
    outcome = _launch(tmp_path, crash)
    assert (outcome.status, outcome.error_kind, outcome.exit_code) == ("failed", "crashed", 7)
    assert "exit code 7" in outcome.error and "about to vanish" in outcome.error


@pytest.mark.parametrize("target", ["/etc/hostname", "/etc/passwd"])
def test_links_planted_in_the_output_are_removed_and_refused(tmp_path: Path, target: str) -> None:
    plant = _reward(f'os.symlink("{target}", "result.json")\nos._exit(0)')
    outcome = _launch(tmp_path, plant)
    assert (outcome.status, outcome.error_kind) == ("failed", "refused")
    assert "planted links or special files (removed): result.json" in outcome.error
    assert not os.path.lexists(tmp_path / "result.json")


def test_progress_comes_from_the_heartbeat_even_without_a_timeout(tmp_path: Path) -> None:
    train, _ = pendulum_job(tmp_path)
    steps: list[int] = []
    outcome = launch_training(
        train, deadline_s=300.0, heartbeat_timeout_s=None, on_heartbeat=steps.append
    )
    assert outcome.status == "ok", outcome.error
    assert outcome.report["steps"] == 1024
    assert steps[0] == 0 and steps[-1] == 1024 and steps == sorted(steps)


@pytest.mark.parametrize("level", LEVELS)
def test_each_level_runs_as_asked_and_the_kernel_levels_confine(tmp_path: Path, level: str) -> None:
    if (reason := probe()[level]) is not None:
        pytest.skip(f"{level} is not available here: {reason}")
    secret = tmp_path / "service" / "rewardforge.db"
    secret.parent.mkdir()
    secret.write_text("secret")
    look = _reward(
        f"""
seen = {{"interfaces": [name for _, name in __import__("socket").if_nameindex()]}}
seen["secret"] = os.path.exists("{secret}")
for key, path in (("root", "/probe"), ("out", "probe")):
    try:
        open(path, "w").close()
        seen[key] = "written"
    except OSError as exc:
        seen[key] = exc.strerror
with open("seen.json", "w") as fh:
    json.dump(seen, fh)
return 0.0, {{}}
"""
    )
    out = tmp_path / "candidate"
    train, _ = pendulum_job(out, reward_code=look)
    policy = SandboxPolicy(level=level, hidden=(secret.parent,))
    outcome = launch_training(train, deadline_s=120.0, heartbeat_timeout_s=None, policy=policy)
    assert (outcome.status, outcome.sandbox_level) == ("invalid", level)
    seen = json.loads((out / "seen.json").read_text())
    assert seen["out"] == "written"
    if level != "rlimits":  # an ordinary process sees what the service sees
        assert seen["interfaces"] == ["lo"]
        assert seen["secret"] is False
        assert seen["root"] == "Read-only file system"


def test_an_interpreter_path_through_dot_dot_keeps_the_strongest_level(tmp_path: Path) -> None:
    """Started as ``../.venv/bin/python`` (as a benchmark in bench/ is), the service
    must still find the kernel sandboxes: the sandbox may not hold the folder the
    path climbs out of."""
    import subprocess
    import sys

    # A relative path from a folder no sandbox holds: Python keeps its ".." parts.
    climbing = os.path.relpath(Path(sys.executable).absolute(), tmp_path)
    code = "from app.execution.isolation import strongest; print(strongest())"
    done = subprocess.run(
        [climbing, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == strongest()
