"""Create the product table."""

import sqlalchemy as sa
from alembic import op

revision = "c1000000001"
down_revision = None
branch_labels = ("mig_catalog",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mig_product",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("title", sa.String(200), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("mig_product")
