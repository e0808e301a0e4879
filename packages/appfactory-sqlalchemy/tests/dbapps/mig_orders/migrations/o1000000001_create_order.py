"""Create the order table, pointing at the user table."""

import sqlalchemy as sa
from alembic import op

revision = "o1000000001"
down_revision = None
branch_labels = ("mig_orders",)
depends_on = ("a1000000001",)


def upgrade() -> None:
    op.create_table(
        "mig_order",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("user_id", sa.Integer, sa.ForeignKey("mig_user.id"), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("mig_order")
