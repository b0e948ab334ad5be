"""Feedback records the prompt that used it; an iteration records why its parent was chosen.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("feedback") as batch:
        batch.add_column(sa.Column("used_in_iteration", sa.Integer(), nullable=True))
    with op.batch_alter_table("iterations") as batch:
        batch.add_column(sa.Column("parent_rule", sa.String(32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("iterations") as batch:
        batch.drop_column("parent_rule")
    with op.batch_alter_table("feedback") as batch:
        batch.drop_column("used_in_iteration")
