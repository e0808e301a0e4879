"""Add the user's email."""

import sqlalchemy as sa
from alembic import op

revision = "a1000000002"
down_revision = "a1000000001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("mig_user") as batch:
        batch.add_column(sa.Column("email", sa.String(200)))


def downgrade() -> None:
    with op.batch_alter_table("mig_user") as batch:
        batch.drop_column("email")
