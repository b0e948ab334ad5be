"""Hostile reward code, pushed through the real launcher as candidates.

Every case of ``hostile_cases`` runs twice: with the AST gate on (the code goes
through ``check_code`` first, and a rejection is the candidate's stored error)
and with the gate off (straight into the sandbox). All runs share one arena
and run side by side, so sandboxes must also leave each other alone:

- a data directory holding a fake SQLite database and another candidate;
- the service's working directory with a ``.env``, and fake API keys in the
  environment of this process (the service);
- listeners on 127.0.0.1 standing in for a neighbour, a name and the service's
  own port (no test aims at any address beyond this machine's loopback);
- a directory outside with a victim file.

Each run must end as its case says, with a clear stored error; leave no
process; leak no secret into its directory, logs or error; reach no listener;
change nothing outside. An honest candidate trained after them must succeed.
"""

from __future__ import annotations

import glob
import json
import os
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from string import Template

import pytest

import sandbox
from app.config import get_settings
from app.evolution.validate import ValidationError, check_code
from app.execution.candidate import run_candidate
from app.execution.executor import CandidateJob, CandidateResult
from app.execution.isolation import resolve
from tests.sandbox import hostile_checks
from tests.sandbox.hostile_cases import CASES, Case
from tests.sandbox.hostile_checks import DISK_MB, FILE_SIZE_MB, MAX_PROCESSES
from tests.sandbox.jobs import PENDULUM_REWARD, pendulum_job

pytestmark = pytest.mark.slow

GATES = ("gate_on", "gate_off")
LEVEL_GIVES = {"bwrap": {"fs", "net", "pid"}, "unshare": {"fs", "net", "pid"}, "rlimits": set()}
SECRETS = {
    "database": "db-secret-7f3a1c",
    "dotenv": "env-secret-91c2de",
    "api_key": "sk-test-hostile-5d1e0b",
    "other_candidate": "other-secret-a4b8f2",
}
VICTIM_TEXT = "the victim file, unchanged"


class Listener:
    """A TCP listener on 127.0.0.1 that records every connection it accepts."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.hits: list[str] = []
        self.open = True
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while self.open:
            try:
                conn, peer = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.hits.append(str(peer))
            conn.close()

    def close(self) -> None:
        self.open = False
        self.thread.join()
        self.sock.close()


@dataclass
class Arena:
    """What the hostile candidates are let loose on."""

    root: Path
    level: str
    listeners: dict[str, Listener]
    outcomes: dict[tuple[str, str], hostile_checks.Outcome] = field(default_factory=dict)

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def artifacts(self) -> Path:
        return self.data / "artifacts"

    @property
    def other(self) -> Path:
        return self.artifacts / "run" / "other-candidate"

    @property
    def outside(self) -> Path:
        return self.root / "outside"

    def substitutions(self, out: Path, tag: str) -> dict[str, object]:
        return {
            "OUT": out,
            "OUTSIDE": self.outside,
            "DATA": self.data,
            "ARTIFACTS": self.artifacts,
            "DB": self.data / "rewardforge.db",
            "DOTENV": self.root / "service" / ".env",
            "OTHER": self.other,
            "SANDBOX_PKG": Path(sandbox.__file__).parent,
            "PORT_IP": self.listeners["ip"].port,
            "PORT_NAME": self.listeners["name"].port,
            "PORT_SERVICE": self.listeners["service"].port,
            "SERVICE_PID": os.getpid(),
            "MARKER": out / "PWNED_BY_PICKLE",
            "TAG": tag,
        }


def _lay_out(root: Path) -> None:
    """The service's files: a database, a .env, another candidate, a victim outside."""
    (root / "data" / "artifacts" / "run" / "other-candidate").mkdir(parents=True)
    db = sqlite3.connect(root / "data" / "rewardforge.db")
    db.execute("create table secrets (value text)")
    db.execute("insert into secrets values (?)", (SECRETS["database"],))
    db.commit()
    db.close()
    (root / "service").mkdir()
    (root / "service" / ".env").write_text(f"REWARDFORGE_API_TOKEN={SECRETS['dotenv']}\n")
    secret = root / "data" / "artifacts" / "run" / "other-candidate" / "secret.txt"
    secret.write_text(SECRETS["other_candidate"])
    (root / "outside").mkdir()
    (root / "outside" / "victim.txt").write_text(VICTIM_TEXT)


@pytest.fixture(scope="module")
def arena(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Arena]:
    """The arena, with every case already run against it (side by side)."""
    root = tmp_path_factory.mktemp("hostile")
    _lay_out(root)
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root / "service")
        mp.setenv("REWARDFORGE_DATA_DIR", str(root / "data"))
        mp.setenv("REWARDFORGE_LLM_API_KEY", SECRETS["api_key"])
        mp.setenv("OPENAI_API_KEY", SECRETS["api_key"])
        mp.setenv("REWARDFORGE_SANDBOX_MEMORY_MB", "2048")
        mp.setenv("REWARDFORGE_SANDBOX_FILE_SIZE_MB", str(FILE_SIZE_MB))
        mp.setenv("REWARDFORGE_SANDBOX_DISK_MB", str(DISK_MB))
        mp.setenv("REWARDFORGE_SANDBOX_MAX_PROCESSES", str(MAX_PROCESSES))
        get_settings.cache_clear()
        listeners = {name: Listener() for name in ("ip", "name", "service")}
        # The settings' level (auto: the strongest here); REWARDFORGE_SANDBOX_LEVEL=unshare
        # runs the suite against the fallback.
        ring = Arena(root, resolve(get_settings().sandbox_level), listeners)
        try:
            _run_all(ring)
            yield ring
        finally:
            for listener in listeners.values():
                listener.close()
            get_settings.cache_clear()
    get_settings.cache_clear()


def _run_all(ring: Arena) -> None:
    runs = [(case, gate) for case in CASES for gate in GATES if _applies(case, ring.level)]
    runs.sort(key=lambda run: not run[0].runaway)  # the long ones first
    with ThreadPoolExecutor(max_workers=4) as pool:
        done = pool.map(lambda run: _run(ring, *run), runs)
        for (case, gate), outcome in zip(runs, done, strict=True):
            ring.outcomes[case.name, gate] = outcome
    ring.outcomes["honest", "gate_on"] = _launch(ring, "honest", PENDULUM_REWARD, runaway=False)


def _applies(case: Case, level: str) -> bool:
    return case.needs <= LEVEL_GIVES[level]


def _run(ring: Arena, case: Case, gate: str) -> hostile_checks.Outcome:
    tag = f"hostile-{case.name}-{gate}"
    code = Template(case.code).substitute(ring.substitutions(ring.artifacts / "run" / tag, tag))
    if gate == "gate_on":
        try:
            check_code(code)
        except ValidationError as exc:
            return hostile_checks.Outcome(tag, ring.artifacts / "run" / tag, gate_error=str(exc))
    return _launch(ring, tag, code, case.runaway)


def _launch(ring: Arena, tag: str, code: str, runaway: bool) -> hostile_checks.Outcome:
    out = ring.artifacts / "run" / tag
    train, evaluation = pendulum_job(out, reward_code=code)
    job = CandidateJob(tag, train, replace(evaluation, episodes=1))
    start = time.monotonic()
    result: CandidateResult = run_candidate(
        job,
        deadline_s=30.0 if runaway else 300.0,
        heartbeat_timeout_s=8.0 if runaway else 90.0,
        should_cancel=lambda: False,
        emit=lambda kind, data: None,
    )
    seconds = time.monotonic() - start
    left = hostile_checks.leftovers(out, tag)
    return hostile_checks.Outcome(tag, out, result=result, seconds=seconds, leftovers=left)


@pytest.mark.parametrize("gate", GATES)
@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_hostile_candidate_is_contained(arena: Arena, case: Case, gate: str) -> None:
    if not _applies(case, arena.level):
        pytest.skip(f"level {arena.level} does not isolate {sorted(case.needs)}")
    outcome = arena.outcomes[case.name, gate]
    if gate == "gate_on" and case.gate_catches:
        assert outcome.gate_error, f"the gate let {case.name} through"
        assert outcome.result is None  # rejected before any process started
        return
    assert outcome.gate_error is None, f"the gate unexpectedly rejected it: {outcome.gate_error}"
    result = outcome.result
    assert result is not None
    assert result.status in case.expect, (result.status, result.error)
    if case.says:
        assert case.says in (result.error or ""), result.error
    assert result.sandbox_level == arena.level
    assert outcome.leftovers == [], "processes left behind"
    assert hostile_checks.leaks(outcome, SECRETS) == []
    assert {name: lst.hits for name, lst in arena.listeners.items() if lst.hits} == {}
    _assert_nothing_outside_changed(arena, outcome.tag)
    hostile_checks.CHECKS.get(case.name, hostile_checks.no_more)(outcome, arena)


def _assert_nothing_outside_changed(ring: Arena, tag: str) -> None:
    assert sorted(p.name for p in ring.outside.iterdir()) == ["victim.txt"]
    assert (ring.outside / "victim.txt").read_text() == VICTIM_TEXT
    assert sorted(p.name for p in ring.other.iterdir()) == ["secret.txt"]
    assert sorted(p.name for p in ring.data.iterdir()) == ["artifacts", "rewardforge.db"]
    sandbox_pkg = ring.substitutions(ring.root, tag)["SANDBOX_PKG"]
    assert glob.glob(f"/tmp/*{tag}*") == glob.glob(f"{sandbox_pkg}/*{tag}*") == []


def test_honest_candidate_succeeds_after_the_attacks(arena: Arena) -> None:
    outcome = arena.outcomes["honest", "gate_on"]
    result = outcome.result
    assert result is not None
    assert result.status == "done", result.error
    assert result.fitness is not None and -1.0 <= result.fitness <= 1.0
    assert result.stats["component_names"] == ["upright", "spin", "effort"]
    assert outcome.leftovers == []
    summary = {f"{name}/{gate}": o.summary() for (name, gate), o in arena.outcomes.items()}
    (arena.root / "summary.json").write_text(json.dumps(summary, indent=1))
