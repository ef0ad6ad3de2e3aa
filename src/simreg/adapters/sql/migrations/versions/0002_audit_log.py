"""audit log

Revision ID: 0002
Revises: 0001
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Every field is stored exactly as hashed (TEXT), so verification recomputes
    # the same bytes; position is unique so two appends cannot fork the chain.
    op.create_table(
        "audit_entries",
        sa.Column("position", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("timestamp", sa.Text, nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("details", sa.Text, nullable=False),
        sa.Column("model_ids", sa.Text, nullable=False),
        sa.Column("policy_sha256", sa.Text, nullable=False),
        sa.Column("prev_hash", sa.Text, nullable=False),
        sa.Column("entry_hash", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("audit_entries")
