"""Durable work: a worker SIGKILLed while a candidate trains loses nothing. A new
worker reclaims the run when the lease expires and resumes it at the first
unfinished candidate; no finished candidate is trained again."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from sqlalchemy import select

from app.db.models import Candidate, Event, Run
from app.db.repository import create_run
from app.db.session import make_engine, make_session_factory, upgrade_database
from tests.processes import cli_env, start_cli
from tests.service.helpers import stop


def _wait(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.25)
    raise TimeoutError(f"timed out waiting for {what}")


def _sandbox_pids(output_dir: Path) -> set[int]:
    """Processes whose working directory is inside ``output_dir`` (the sandboxes)."""
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if str(Path(os.readlink(entry / "cwd"))).startswith(str(output_dir)):
                    found.add(int(entry.name))
            except OSError:
                continue
    return found


def _describe(pids: set[int]) -> list[str]:
    """Each process's pid, parent, state and command line, for a failure message."""
    lines = []
    for pid in sorted(pids):
        try:
            status = dict(
                line.split(":\t", 1)
                for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                if ":\t" in line
            )
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        lines.append(f"{pid} ppid={status.get('PPid')} {status.get('State')} {argv[:200]}")
    return lines


def test_killed_worker_resumes_run_without_retraining(tmp_path: Path) -> None:
    data = tmp_path / "data"
    url = f"sqlite:///{data / 'rewardforge.db'}"
    upgrade_database(url)
    factory = make_session_factory(make_engine(url))
    with factory() as session:
        run = create_run(
            session,
            env_id="MountainCarContinuous-v0",
            task="reach the flag",
            fitness_metric="reach_flag",
            iterations=2,
            samples=3,
            timesteps=6000,
            final_seeds=0,
            llm={"offline": True},
            options={"n_envs": 2, "eval_episodes": 1, "video": False},
        )
        session.commit()
        run_id = run.id
    env = cli_env(data, database_url=url, lease_seconds="3", workers="1")

    def candidates() -> list[Candidate]:
        with factory() as session:
            return list(session.scalars(select(Candidate).where(Candidate.run_id == run_id)))

    first = start_cli(["worker"], env, tmp_path / "worker1.log")
    try:  # kill it while a candidate trains, after at least one has finished
        _wait(
            lambda: (
                any(c.status == "done" for c in candidates())
                and any(c.status == "training" for c in candidates())
            ),
            300,
            "a second training",
        )
        finished_before = {
            c.id: (c.fitness, c.train_seconds) for c in candidates() if c.status == "done"
        }
        first.send_signal(signal.SIGKILL)
        first.wait()
    finally:
        stop(first)
    try:  # a loaded machine tears a dying trainer's memory down slowly
        _wait(lambda: not _sandbox_pids(data / "artifacts"), 60, "the sandboxes to die")
    except TimeoutError as exc:
        raise AssertionError(
            f"the dead worker's sandboxes live on: {_describe(_sandbox_pids(data / 'artifacts'))}"
        ) from exc

    second = start_cli(["worker"], env, tmp_path / "worker2.log")
    try:
        _wait(lambda: _status(factory, run_id) in ("succeeded", "failed"), 400, "the run to end")
    finally:
        stop(second)
    assert _status(factory, run_id) == "succeeded", (tmp_path / "worker2.log").read_text()[-3000:]
    rows = candidates()
    keys = [(c.iteration_index, c.sample_index, c.kind) for c in rows]
    assert len(keys) == len(set(keys)) == 6  # every candidate exactly once, none lost
    assert all(c.status == "done" for c in rows)
    for candidate in rows:
        if candidate.id in finished_before:  # not trained again
            assert (candidate.fitness, candidate.train_seconds) == finished_before[candidate.id]
            assert candidate.attempts == 1
    with factory() as session:
        claims = list(
            session.scalars(
                select(Event).where(Event.run_id == run_id, Event.kind == "run.claimed")
            )
        )
    assert len({e.data.get("worker_id") for e in claims}) >= 2  # reclaimed by the new worker


def _status(factory, run_id: str) -> str:  # type: ignore[no-untyped-def]
    with factory() as session:
        run = session.get(Run, run_id)
        assert run is not None
        return run.status
