"""The migrations build exactly the schema the models describe, and take it down again."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from app.db.models import Base
from app.db.session import downgrade_database, make_engine, upgrade_database

REPO_ROOT = Path(__file__).resolve().parents[2]


def _schema_differences(url: str) -> list:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            return compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()


def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_upgrade_head_matches_models(empty_db_url: str) -> None:
    upgrade_database(empty_db_url)
    assert _schema_differences(empty_db_url) == []


def test_schema_check_sees_a_missing_schema(empty_db_url: str) -> None:
    # The comparison above is only worth something if it notices differences.
    upgrade_database(empty_db_url, revision="base")
    differences = _schema_differences(empty_db_url)
    added_tables = {diff[1].name for diff in differences if diff[0] == "add_table"}
    assert added_tables == set(Base.metadata.tables)


def test_downgrade_base_removes_every_table(empty_db_url: str) -> None:
    upgrade_database(empty_db_url)
    assert set(Base.metadata.tables) <= _tables(empty_db_url)
    downgrade_database(empty_db_url)
    assert _tables(empty_db_url) == {"alembic_version"}
    upgrade_database(empty_db_url)
    assert _schema_differences(empty_db_url) == []


def test_upgrade_twice_is_a_no_op(db_url: str) -> None:
    upgrade_database(db_url)
    assert _schema_differences(db_url) == []


def test_processes_upgrading_at_once_both_succeed(empty_db_url: str) -> None:
    code = "import sys; from app.db.session import upgrade_database; upgrade_database(sys.argv[1])"
    procs = [
        subprocess.Popen([sys.executable, "-c", code, empty_db_url], stderr=subprocess.PIPE)
        for _ in range(2)
    ]
    errors = [proc.communicate(timeout=120)[1].decode() for proc in procs]
    assert [proc.returncode for proc in procs] == [0, 0], errors
    assert _schema_differences(empty_db_url) == []


def test_alembic_command_line_takes_the_url_from_x_option(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    alembic = Path(sys.executable).parent / "alembic"
    done = subprocess.run(
        [str(alembic), "-x", f"url={url}", "upgrade", "head"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert _schema_differences(url) == []
