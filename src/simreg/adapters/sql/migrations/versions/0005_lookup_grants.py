"""citizen lookup grants

Revision ID: 0005
Revises: 0004
"""
import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "lookup_grants",
        sa.Column("token_sha256", sa.String(64), primary_key=True, nullable=False),
        sa.Column("person_id", sa.String(32), nullable=True),
        sa.Column("id_index", sa.String(80), nullable=False),
        sa.Column("clerk_id", sa.String(32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("lookup_grants")
