"""The disk quota of a sandbox: files written in a loop, deleted files held open, a
flood of empty files and a locked directory are stopped at every isolation level
and by a service without privileges too, with a clear error, and what they wrote
is deleted; honest training fits under a small quota."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from app.execution.disk import MAX_ENTRIES, MiB, usage
from app.execution.isolation import LEVELS, probe
from app.execution.launcher import SandboxPolicy, launch_training
from tests.sandbox.jobs import pendulum_job

QUOTA_MB = 64
REPO = Path(__file__).resolve().parents[2]

WRITE_IN_A_LOOP = """
import os

def compute_reward(state, action):
    chunk = b"x" * (1 << 20)
    os.makedirs("logs", exist_ok=True)
    for i in range(64):  # 64 files of 16 MiB: 1 GiB, far over the quota
        with open(f"logs/fill_{i}.bin", "wb") as fh:
            for _ in range(16):
                fh.write(chunk)
    return state["uprightness"], {"upright": state["uprightness"]}
"""

HOLD_DELETED = """
import os, time

def compute_reward(state, action):
    chunk, held = b"x" * (1 << 20), []
    for i in range(64):  # each file unlinked at once, its 16 MiB kept open
        fh = open(f"held_{i}.bin", "wb")
        os.unlink(fh.name)
        for _ in range(16):
            fh.write(chunk)
        fh.flush()
        held.append(fh)
    time.sleep(5)
    return state["uprightness"], {"upright": state["uprightness"]}
"""

MANY_FILES = f"""
def compute_reward(state, action):
    for i in range({MAX_ENTRIES * 3}):
        open(f"empty_{{i}}", "w").close()
    return state["uprightness"], {{"upright": state["uprightness"]}}
"""


def _launch(out: Path, code: str, level: str = "auto", quota_mb: int = QUOTA_MB):
    train, _ = pendulum_job(out, reward_code=code)
    policy = SandboxPolicy(
        level=level, memory_bytes=2048 * MiB, file_size_bytes=32 * MiB, disk_bytes=quota_mb * MiB
    )
    return launch_training(train, deadline_s=300.0, heartbeat_timeout_s=None, policy=policy)


def _left(out: Path) -> set[str]:
    return {str(p.relative_to(out)) for p in out.rglob("*")}


@pytest.mark.parametrize("level", LEVELS)
def test_files_written_in_a_loop_are_stopped_at_the_quota_and_deleted(
    tmp_path: Path, level: str
) -> None:
    if (reason := probe()[level]) is not None:
        pytest.skip(f"{level} is not available here: {reason}")
    outcome = _launch(tmp_path, WRITE_IN_A_LOOP, level)
    assert (outcome.status, outcome.error_kind, outcome.sandbox_level) == (
        "failed",
        "disk_quota",
        level,
    )
    assert f"disk quota: the sandbox wrote more than {QUOTA_MB} MB" in outcome.error
    assert _left(tmp_path) <= {"train_spec.json", "train.stdout.log", "train.stderr.log"}


def test_deleted_files_held_open_count_against_the_quota(tmp_path: Path) -> None:
    outcome = _launch(tmp_path, HOLD_DELETED)
    assert (outcome.status, outcome.error_kind) == ("failed", "disk_quota")
    assert "in deleted files it still held" in outcome.error


def test_a_flood_of_empty_files_is_stopped(tmp_path: Path) -> None:
    outcome = _launch(tmp_path, MANY_FILES)
    assert (outcome.status, outcome.error_kind) == ("failed", "disk_quota")
    assert f"disk quota: the sandbox made more than {MAX_ENTRIES} files" in outcome.error
    assert len(_left(tmp_path)) <= 3


def test_honest_training_fits_under_a_small_quota(tmp_path: Path) -> None:
    train, _ = pendulum_job(tmp_path)
    policy = SandboxPolicy(disk_bytes=16 * MiB)
    outcome = launch_training(train, deadline_s=300.0, heartbeat_timeout_s=None, policy=policy)
    assert outcome.status == "ok", outcome.error
    assert usage(tmp_path, []).bytes < 16 * MiB


def test_a_deleted_file_kept_only_mapped_still_counts(tmp_path: Path) -> None:
    holder = textwrap.dedent(
        f"""
        import mmap, os, sys, time
        with open("{tmp_path}/mapped.bin", "wb+") as fh:
            fh.write(b"x" * (8 << 20))
            fh.flush()
            view = mmap.mmap(fh.fileno(), 0)
        os.unlink("{tmp_path}/mapped.bin")
        print("ready", flush=True)
        time.sleep(60)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", holder], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
        assert usage(tmp_path, []).bytes == 0
        assert usage(tmp_path, [proc.pid]).hidden_bytes >= 8 << 20
    finally:
        proc.kill()
        proc.wait()


LOCKED_DIR = """
import os

def compute_reward(state, action):
    os.makedirs("hide/deeper")
    chunk = b"x" * (1 << 20)
    for i in range(64):
        with open(f"hide/deeper/f_{i}.bin", "wb") as fh:
            for _ in range(16):
                fh.write(chunk)
        os.chmod("hide", 0)  # hidden from a service that walks as its owner
        os.chmod("hide", 0o700)
    os.chmod("hide", 0)
    return state["uprightness"], {"upright": state["uprightness"]}
"""

DRIVER = """
import json, sys
from pathlib import Path
from app.execution.disk import MiB
from app.execution.launcher import SandboxPolicy, launch_training
from tests.sandbox.jobs import pendulum_job

out, code = Path(sys.argv[1]), sys.argv[2]
train, _ = pendulum_job(out, reward_code=code)
policy = SandboxPolicy(memory_bytes=2048 * MiB, file_size_bytes=32 * MiB, disk_bytes=64 * MiB)
outcome = launch_training(train, deadline_s=300.0, heartbeat_timeout_s=None, policy=policy)
print(json.dumps({"status": outcome.status, "kind": outcome.error_kind,
                  "error": outcome.error, "level": outcome.sandbox_level}))
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="the other tests already run unprivileged")
def test_a_service_without_privileges_stops_a_sandbox_that_locks_its_directory(
    tmp_path: Path,
) -> None:
    """The service with every capability dropped: it reads a directory the sandbox
    locked (chmod 000) only by opening it up, and /proc of its sandbox as its owner."""
    done = subprocess.run(
        ["setpriv", "--bounding-set=-all", "--inh-caps=-all", "--ambient-caps=-all"]
        + ["--no-new-privs", sys.executable, "-c", DRIVER, str(tmp_path), LOCKED_DIR],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={"PATH": os.environ["PATH"], "HOME": str(tmp_path)},
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    outcome = json.loads(done.stdout.splitlines()[-1])
    assert (outcome["status"], outcome["kind"]) == ("failed", "disk_quota"), outcome
    assert "wrote more than 64 MB" in outcome["error"]
    assert not (tmp_path / "hide").exists()
