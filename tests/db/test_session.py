"""Engines and sessions: URL handling, SQLite set up for several processes, transactions."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from app.config import get_settings
from app.db.models import Candidate
from app.db.runs import get_run
from app.db.session import (
    get_session_factory,
    make_engine,
    make_session_factory,
    normalize_url,
    session_scope,
    upgrade_database,
)
from tests.db.factories import new_run


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgresql://u:p@db:5432/rf", "postgresql+psycopg://u:p@db:5432/rf"),
        ("postgres://u@db/rf", "postgresql+psycopg://u@db/rf"),
        ("postgresql+psycopg://u@db/rf", "postgresql+psycopg://u@db/rf"),
        ("sqlite:///data/rf.db", "sqlite:///data/rf.db"),
    ],
)
def test_postgres_urls_use_psycopg_3(given: str, expected: str) -> None:
    assert normalize_url(given) == expected


def test_sqlite_engine_makes_its_directory_and_shares_safely(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'nested' / 'dir' / 'rf.db'}")
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 10_000
        assert (tmp_path / "nested" / "dir" / "rf.db").exists()
    finally:
        engine.dispose()


def test_default_database_lives_under_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("REWARDFORGE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("REWARDFORGE_DATABASE_URL", raising=False)
    get_settings.cache_clear()
    try:
        upgrade_database()
        with session_scope() as session:
            run_id = new_run(session).id
        with session_scope(get_session_factory()) as session:
            assert get_run(session, run_id=run_id) is not None
        assert (tmp_path / "data" / "rewardforge.db").exists()
        get_session_factory().kw["bind"].dispose()
    finally:
        get_settings.cache_clear()


def test_session_scope_commits_or_rolls_back(session_factory: sessionmaker[Session]) -> None:
    with session_scope(session_factory) as session:
        kept = new_run(session).id
    with pytest.raises(RuntimeError), session_scope(session_factory) as session:
        dropped = new_run(session).id
        raise RuntimeError("stop")
    with session_scope(session_factory) as session:
        assert get_run(session, run_id=kept) is not None
        assert get_run(session, run_id=dropped) is None


def test_foreign_keys_are_enforced(session_factory: sessionmaker[Session]) -> None:
    with pytest.raises(IntegrityError), session_scope(session_factory) as session:
        session.add(Candidate(run_id="missing", iteration_index=0, sample_index=0))


def test_second_writer_waits_instead_of_failing(db_url: str) -> None:
    """SQLite allows one writer; the busy timeout makes the next one queue for it."""
    engine = make_engine(db_url)
    factory = make_session_factory(engine)
    holding = threading.Event()

    def slow_writer() -> None:
        with session_scope(factory) as session:
            new_run(session)
            holding.set()
            time.sleep(0.5)

    thread = threading.Thread(target=slow_writer)
    thread.start()
    holding.wait(10)
    with session_scope(factory) as session:
        new_run(session)
    thread.join(10)
    with session_scope(factory) as session:
        assert session.execute(text("SELECT count(*) FROM runs")).scalar() == 2
    engine.dispose()


def test_json_columns_store_non_finite_and_numpy_values_alike(
    session_factory: sessionmaker[Session],
) -> None:
    stats = {"mean": float("nan"), "max": float("inf"), "curve": np.array([1.0, 2.5]),
             "steps": np.int64(4096), "nested": [{"x": float("-inf")}]}  # fmt: skip
    with session_scope(session_factory) as session:
        run = new_run(session)
        run.final = stats  # a JSON column whose shape the sandbox's statistics decide
        run_id = run.id
    with session_scope(session_factory) as session:
        run = get_run(session, run_id=run_id)
        assert run is not None
        expected = {"mean": None, "max": None, "curve": [1.0, 2.5], "steps": 4096,
                    "nested": [{"x": None}]}  # fmt: skip
        assert run.final == expected
