"""What the CLI prints is usable as printed: ids whole at 80 columns, progress
lines without source tags, a stopped candidate's reason said once."""

from __future__ import annotations

import io
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from rich.console import Console

from app.cli.progress import RunProgress
from app.cli.report import _cell
from app.db.models import Candidate
from envs import list_cards
from tests.processes import cli_env, free_port, run_cli, start_cli, wait_for_http

LONG_TASK = (
    "run forward as fast as possible while keeping the torso level and the feet "
    "light on the ground, without flipping over at any point of the episode"
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    """``rewardforge serve`` without workers (runs stay queued) and its environment."""
    folder = tmp_path_factory.mktemp("cli-tables")
    env = cli_env(folder / "data", database_url=f"sqlite:///{folder / 'rewardforge.db'}")
    port = free_port()
    args = ["serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "0"]
    process = start_cli(args, env, folder / "serve.log")
    try:
        wait_for_http(f"http://127.0.0.1:{port}/api/health", timeout=90, process=process)
        yield f"http://127.0.0.1:{port}", env
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def test_runs_table_prints_whole_ids_at_80_columns(server: tuple[str, dict[str, str]]) -> None:
    base_url, env = server
    ids = []
    for env_id, task in [("HalfCheetah-v5", LONG_TASK), ("MountainCarContinuous-v0", "reach it")]:
        response = httpx.post(
            f"{base_url}/api/runs", json={"env_id": env_id, "task": task}, timeout=30
        )
        assert response.status_code == 201, response.text
        ids.append(response.json()["id"])

    for columns in (80, 60, 140):
        done = run_cli(["runs"], {**env, "COLUMNS": str(columns)}, timeout=120)
        assert done.returncode == 0, done.stderr
        assert max(len(line) for line in done.stdout.splitlines()) <= columns
        for run_id in ids:  # whole, on one line, not followed by an ellipsis
            assert re.search(rf"(^| ){run_id}  ", done.stdout, re.M), done.stdout
    assert "HalfCheetah-v5" in done.stdout and LONG_TASK[:60] in done.stdout  # room at 140

    # An id copied from the table is one `show` accepts.
    shown = run_cli(["show", ids[0]], {**env, "COLUMNS": "80"}, timeout=120)
    assert shown.returncode == 0, shown.stderr
    assert ids[0] in shown.stdout


def _progress_output(events: list[tuple[str, dict]]) -> str:
    out = io.StringIO()
    console = Console(file=out, width=100, force_terminal=False, color_system=None)
    with RunProgress(console, iterations=1, samples=2, timesteps=4000) as progress:
        for kind, data in events:
            progress(kind, data)
    return out.getvalue()


def test_progress_lines_carry_a_time_but_no_source_file_tag() -> None:
    text = _progress_output(
        [
            ("iteration.started", {"index": 0, "total": 1}),
            ("llm.request", {"samples": 2}),
            ("candidate.result", {"id": "a1b2c3d4e5f6", "status": "done", "fitness": 12.5}),
        ]
    )
    assert "asking for 2 reward functions" in text
    assert "a1b2c3d4e5f6: fitness 12.5" in text
    assert not re.search(r"\w+\.py:\d+", text), text
    assert re.search(r"\[\d\d:\d\d:\d\d\] asking for 2", text)


def test_stopped_candidate_says_stopped_once_and_errors_print_as_written() -> None:
    stopped = (
        "stopped by successive halving after 1000 of 4000 env steps: "
        "its fitness -3.2 ranked below the candidates kept"
    )
    text = _progress_output(
        [
            ("candidate.result", {"id": "aaaaaaaaaaaa", "status": "stopped", "error": stopped}),
            (
                "candidate.result",
                {"id": "bbbbbbbbbbbb", "status": "invalid", "error": "shape [8] != [4]\nmore"},
            ),
        ]
    )
    assert "aaaaaaaaaaaa: stopped by successive halving after 1000 of 4000" in text
    assert text.count("stopped") == 1
    assert "bbbbbbbbbbbb: invalid: shape [8] != [4]" in text
    assert "more" not in text


def test_every_fitness_says_which_seed_and_the_final_bar_times_its_own_stage() -> None:
    text = _progress_output(
        [
            ("candidate.result", {"id": "s" * 12, "status": "done", "fitness": 3.0}),
            (
                "candidate.result",
                {"id": "f" * 12, "kind": "final", "status": "done", "fitness": 2.0},
            ),
        ]
    )
    assert f"{'s' * 12}: fitness 3 (1 search seed)" in text
    assert f"{'f' * 12}: fitness 2 (one final-test seed)" in text

    console = Console(file=io.StringIO(), width=100, color_system=None)
    progress = RunProgress(console, iterations=1, samples=2, timesteps=4000)
    progress("iteration.started", {"index": 0, "total": 1})
    began = progress.bars.get_time()
    progress("final.started", {"trainings": 3})
    bar = progress.bars.tasks[1]
    assert bar.description == "final retraining" and (bar.total, bar.completed) == (3, 0)
    assert bar.start_time is not None and bar.start_time >= began


def test_show_prints_a_stopped_candidates_fitness_and_rung() -> None:
    stopped = Candidate(
        id="c" * 12,
        status="stopped",
        fitness=-3.25,
        evaluation={"halving": {"rung": 0, "rungs": 3, "budget": 1000, "kept": False}},
    )
    assert (
        _cell(stopped, best=None, timesteps=4000) == "[dim]-3.25 (stopped at rung 1/3, 25%)[/dim]"
    )
    queued = Candidate(id="q" * 12, status="queued")
    assert _cell(queued, best=None, timesteps=4000) == "queued"
    cancelled = Candidate(id="x" * 12, status="pending", error_kind="cancelled")
    assert _cell(cancelled, best=None, timesteps=4000) == "cancelled"


def test_env_catalog_prints_whole_env_ids_at_80_columns(tmp_path: Path) -> None:
    done = run_cli(["envs"], {**cli_env(tmp_path / "data"), "COLUMNS": "80"}, timeout=120)
    assert done.returncode == 0, done.stderr
    assert max(len(line) for line in done.stdout.splitlines()) <= 80
    for card in list_cards():
        assert re.search(rf"│ {re.escape(card.env_id)} +│", done.stdout), card.env_id
