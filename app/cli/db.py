"""``rewardforge db``: schema migrations."""

from __future__ import annotations

import typer

from app.config import get_settings
from app.db.session import upgrade_database

app = typer.Typer(help="Database schema (Alembic migrations).", no_args_is_help=True)


@app.command("upgrade")
def upgrade() -> None:
    """Create or upgrade the schema of REWARDFORGE_DATABASE_URL to the latest version."""
    url = get_settings().resolved_database_url
    upgrade_database(url)
    typer.echo(f"database is at the latest schema: {_redact(url)}")


def _redact(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
