"""feedback: the rating filter uses the rating order's index; its own index goes

``?rating=r`` (r is 1 to 5) is served by ``ix_feedback_rating_order`` on
``(coalesce(rating, 0), id)``, the index the rating sort needs anyway, so
``ix_feedback_rating_id`` on ``(rating, id)`` only cost a write on every feedback
sent.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06
"""

from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade():
    op.drop_index("ix_feedback_rating_id", table_name="feedback")


def downgrade():
    op.create_index("ix_feedback_rating_id", "feedback", ["rating", "id"])
