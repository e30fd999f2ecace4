"""products, feedback, and list indexes on users

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "products",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        # Whole cents on SQLite, NUMERIC(12, 2) elsewhere: see models.base.Money.
        # models.base.Money: NUMERIC(12, 2), or whole cents in an INTEGER on SQLite.
        sa.Column(
            "price",
            sa.Numeric(precision=12, scale=2).with_variant(sa.Integer(), "sqlite"),
            nullable=False,
        ),
        sa.Column("category", sa.String(length=50), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_products_category_id", "products", ["category", "id"])
    op.create_index("ix_products_name_id", "products", ["name", "id"])
    op.create_index("ix_products_price_id", "products", ["price", "id"])
    op.create_index("ix_products_created_at_id", "products", ["created_at", "id"])

    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("rating", sa.Integer(), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_feedback_rating_id", "feedback", ["rating", "id"])
    op.create_index(
        "ix_feedback_rating_order", "feedback", [sa.text("coalesce(rating, 0)"), "id"]
    )
    op.create_index("ix_feedback_created_at_id", "feedback", ["created_at", "id"])
    op.create_index("ix_feedback_user_id", "feedback", ["user_id"])

    # The admin user list filters by role and sorts on (column, id).
    op.drop_index("ix_users_role", table_name="users")
    op.drop_index("ix_users_name", table_name="users")
    op.drop_index("ix_users_created_at", table_name="users")
    op.create_index("ix_users_role_id", "users", ["role", "id"])
    op.create_index("ix_users_name_id", "users", ["name", "id"])
    op.create_index("ix_users_email_id", "users", ["email", "id"])
    op.create_index("ix_users_created_at_id", "users", ["created_at", "id"])


def downgrade():
    op.drop_index("ix_users_created_at_id", table_name="users")
    op.drop_index("ix_users_email_id", table_name="users")
    op.drop_index("ix_users_name_id", table_name="users")
    op.drop_index("ix_users_role_id", table_name="users")
    op.create_index("ix_users_created_at", "users", ["created_at"])
    op.create_index("ix_users_name", "users", ["name"])
    op.create_index("ix_users_role", "users", ["role"])
    op.drop_table("feedback")
    op.drop_table("products")
