"""Create greetings

Revision ID: a41fbe067287
Revises:
Create Date: 2026-12-04 16:49:49.883497
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "a41fbe067287"
down_revision = None
branch_labels = ("mymodule",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "greetings",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("text", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )


def downgrade() -> None:
    op.drop_table("greetings")
