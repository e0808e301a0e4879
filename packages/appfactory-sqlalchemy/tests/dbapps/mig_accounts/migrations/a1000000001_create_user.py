"""Create the user table."""

import sqlalchemy as sa
from alembic import op

revision = "a1000000001"
down_revision = None
branch_labels = ("mig_accounts",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mig_user",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(80), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("mig_user")
