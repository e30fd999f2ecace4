"""refresh grace: what a session's last refresh used up, and when

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column(
        "auth_sessions",
        sa.Column("previous_refresh_digest", sa.String(length=64), nullable=True),
    )
    op.add_column(
        "auth_sessions", sa.Column("refreshed_at", sa.DateTime(timezone=True), nullable=True)
    )


def downgrade():
    with op.batch_alter_table(
        "auth_sessions", table_kwargs={"sqlite_autoincrement": True}
    ) as batch:
        batch.drop_column("refreshed_at")
        batch.drop_column("previous_refresh_digest")
