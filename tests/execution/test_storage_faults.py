"""Faults of the service's own storage are not blamed on candidates.

A data directory that is read-only, turns read-only mid-run or fills up
mid-run ends the candidate as "storage", naming the path and the errno; a
reward that raises ENOSPC itself stays the candidate's own failure. Each case
trains a real candidate through the local executor (or lands a Ray task's
files) in a mount namespace of its own, on a tmpfs made for it, so the kernel
itself answers EROFS and ENOSPC.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.execution.storage import fault, probe

REPO = Path(__file__).resolve().parents[2]
NAMESPACE = ["unshare", "--mount", "--propagation", "private"]
if os.geteuid() != 0:  # a user namespace of its own lets an ordinary user mount a tmpfs
    NAMESPACE[1:1] = ["--user", "--map-root-user"]

DRIVER = """
import errno, json, os, subprocess, sys, time
from dataclasses import asdict, replace
from pathlib import Path

from app.execution.executor import CandidateJob, CandidateResult
from app.execution.local import LocalExecutor
from tests.sandbox.jobs import pendulum_job

case, data = sys.argv[1], Path(sys.argv[2])
subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "test-data", str(data)], check=True)
out = data / "artifacts" / "run-1" / "candidate-1"
out.parent.mkdir(parents=True)


def read_only():
    for _ in range(400):  # refused while a file there is open for writing
        done = subprocess.run(["mount", "-o", "remount,ro", str(data)], capture_output=True)
        if done.returncode == 0:
            return
        time.sleep(0.02)
    raise RuntimeError(done.stderr)


def fill():
    fd = os.open(data / "filler", os.O_WRONLY | os.O_CREAT)
    for size in (1 << 20, 4096):
        try:
            while True:
                os.write(fd, b"x" * size)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC, exc


SPOIL = {"read_only_mid_run": read_only, "full_mid_run": fill}
ENOSPC_REWARD = '''
import errno
calls = [0]

def compute_reward(state, action):
    calls[0] += 1
    if calls[0] > 20:
        raise OSError(errno.ENOSPC, "No space left on device")
    return state["uprightness"], {"upright": state["uprightness"]}
'''

if case == "ray_landing_read_only":
    from app.execution.ray_executor import land
    from app.execution.ray_node import NodeOutcome

    train, evaluation = pendulum_job(out)
    read_only()
    landed = NodeOutcome(CandidateResult("candidate-1", "done"), {"result.json": b"{}"})
    result = land(landed, CandidateJob("candidate-1", train, evaluation))
else:
    code = ENOSPC_REWARD if case == "reward_raises_enospc" else None
    train, evaluation = pendulum_job(out, **({"reward_code": code} if code else {}))
    job = CandidateJob("candidate-1", train, replace(evaluation, episodes=1))
    if case == "read_only":
        read_only()
    spoiled = []

    def on_event(kind, data):
        if kind == "heartbeat" and data["steps"] > 0 and case in SPOIL and not spoiled:
            spoiled.append(SPOIL[case]())

    [result] = LocalExecutor(1).run([job], on_event=on_event)
print(json.dumps(asdict(result)))
"""


def _run(case: str, tmp_path: Path) -> dict:
    data = tmp_path / "data"
    data.mkdir()
    done = subprocess.run(
        [*NAMESPACE, sys.executable, "-c", DRIVER, case, str(data)],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.splitlines()[-1])


@pytest.fixture(scope="module", autouse=True)
def _mount_namespace() -> None:
    try:
        made = subprocess.run([*NAMESPACE, "true"], capture_output=True, timeout=30)
    except OSError as exc:
        pytest.skip(f"no unshare here: {exc}")
    if made.returncode != 0:
        pytest.skip(f"cannot make a mount namespace: {made.stderr.decode().strip()}")


def test_a_read_only_data_dir_is_a_storage_fault_naming_path_and_errno(tmp_path: Path) -> None:
    result = _run("read_only", tmp_path)
    assert (result["status"], result["error_kind"]) == ("failed", "storage")
    assert "Read-only file system (EROFS, errno 30)" in result["error"]
    assert str(tmp_path / "data" / "artifacts" / "run-1" / "candidate-1") in result["error"]


def test_a_data_dir_turned_read_only_mid_run_is_not_the_candidates_fault(tmp_path: Path) -> None:
    result = _run("read_only_mid_run", tmp_path)
    assert (result["status"], result["error_kind"]) == ("failed", "storage"), result["error"]
    assert "(EROFS, errno 30)" in result["error"]
    assert str(tmp_path / "data" / "artifacts" / "run-1") in result["error"]


def test_a_disk_filled_mid_run_is_not_the_candidates_fault(tmp_path: Path) -> None:
    result = _run("full_mid_run", tmp_path)
    assert (result["status"], result["error_kind"]) == ("failed", "storage"), result["error"]
    assert "No space left on device (ENOSPC, errno 28)" in result["error"]


def test_a_reward_raising_enospc_itself_stays_the_candidates_failure(tmp_path: Path) -> None:
    result = _run("reward_raises_enospc", tmp_path)
    assert (result["status"], result["error_kind"]) == ("failed", "reward"), result["error"]
    assert "No space left on device" in result["error"]


def test_ray_landing_on_read_only_storage_is_a_storage_fault(tmp_path: Path) -> None:
    pytest.importorskip("ray")
    result = _run("ray_landing_read_only", tmp_path)
    assert (result["status"], result["error_kind"]) == ("failed", "storage")
    assert "(EROFS, errno 30)" in result["error"]


def test_only_storage_errnos_are_storage_faults(tmp_path: Path) -> None:
    assert fault(PermissionError(13, "Permission denied", "/x")) is None
    assert fault(ValueError("no")) is None
    try:
        try:
            raise OSError(5, "Input/output error", "/data/artifacts/run/c")
        except OSError as exc:
            raise RuntimeError("the node failed") from exc
    except RuntimeError as wrapped:
        message = fault(wrapped)
    assert message is not None
    assert message.startswith("storage: /data/artifacts/run/c: Input/output error (EIO, errno 5)")
    assert probe(tmp_path) is None and list(tmp_path.iterdir()) == []
