"""``rewardforge serve`` refuses settings that would leave it open, and says why."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.processes import cli_env, free_port, run_cli


@pytest.mark.parametrize("host", ["0.0.0.0", "127.0.0.1"])
def test_serve_refuses_a_token_setting_of_separators_only(tmp_path: Path, host: str) -> None:
    env = cli_env(tmp_path / "data", api_token=",")
    args = ["serve", "--host", host, "--port", str(free_port()), "--workers", "0"]
    done = run_cli(args, env, timeout=30)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "REWARDFORGE_API_TOKEN holds only separators" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "data").exists()  # refused before touching the database
