"""accounts: refresh tokens and session details, password reset tokens

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade():
    op.add_column("auth_sessions", sa.Column("refresh_digest", sa.String(length=64), nullable=True))
    op.add_column("auth_sessions", sa.Column("user_agent", sa.String(length=255), nullable=True))
    op.add_column(
        "auth_sessions", sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True)
    )
    # Sessions opened before this revision were last seen, as far as we know, at login.
    op.execute("UPDATE auth_sessions SET last_used_at = created_at")
    # SQLite cannot make a column NOT NULL in place: batch mode rebuilds the table
    # there (keeping AUTOINCREMENT, which reflection cannot see); elsewhere it is ALTER.
    with op.batch_alter_table(
        "auth_sessions", table_kwargs={"sqlite_autoincrement": True}
    ) as batch:
        batch.alter_column(
            "last_used_at", existing_type=sa.DateTime(timezone=True), nullable=False
        )

    op.create_table(
        "password_reset_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("password_fingerprint", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("digest"),
        sqlite_autoincrement=True,
    )
    op.create_index(
        "ix_password_reset_tokens_expires_at", "password_reset_tokens", ["expires_at"]
    )
    op.create_index("ix_password_reset_tokens_user_id", "password_reset_tokens", ["user_id"])


def downgrade():
    op.drop_table("password_reset_tokens")
    with op.batch_alter_table(
        "auth_sessions", table_kwargs={"sqlite_autoincrement": True}
    ) as batch:
        batch.drop_column("last_used_at")
        batch.drop_column("user_agent")
        batch.drop_column("refresh_digest")
