"""``rewardforge doctor`` run the way a user runs it: it reports, it never fails."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

from app.execution.isolation import strongest
from tests.processes import cli_env, run_cli


def test_doctor_reports_the_sandbox_level_and_what_to_install(tmp_path: Path) -> None:
    env = cli_env(tmp_path / "data", sandbox_level="rlimits", llm_model="some-model")
    env["COLUMNS"] = "200"
    done = run_cli(["doctor"], env, timeout=300)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    for check in ("sandbox level bwrap", "sandbox level unshare", "sandbox caps"):
        assert check in out
    assert "rlimits (REWARDFORGE_SANDBOX_LEVEL=rlimits)" in out  # the level in force
    assert f"sandbox level {strongest()}" in out
    assert "not created yet" in out  # a fresh data dir: the SQLite file comes later
    assert "some-model at the OpenAI API (no API key set)" in out
    assert "MuJoCo rendering" in out and "Postgres client" in out
    assert "batched simulator" in out and "mujoco-warp 4." in out
    assert "covers HalfCheetah-v5, Hopper-v5, Walker2d-v5, Swimmer-v5" in out


def test_doctor_says_when_the_database_cannot_be_reached(tmp_path: Path) -> None:
    # A listener of our own that hangs up on everyone: no Postgres behind it.
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def hang_up() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            conn.close()

    threading.Thread(target=hang_up, daemon=True).start()
    url = f"postgresql+psycopg://user:hunter2@127.0.0.1:{port}/none"
    env = cli_env(tmp_path / "data", database_url=url)
    env["COLUMNS"] = "200"
    try:
        done = run_cli(["doctor"], env, timeout=300)
    finally:
        server.close()
    assert done.returncode == 0, done.stderr
    assert "OperationalError" in done.stdout
    assert "hunter2" not in done.stdout  # the password is never shown
