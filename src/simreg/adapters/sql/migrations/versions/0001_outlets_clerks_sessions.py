"""outlets, clerks, capture sessions

Revision ID: 0001
Revises:
"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outlets",
        sa.Column("outlet_id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "clerks",
        sa.Column("clerk_id", sa.String(32), primary_key=True),
        sa.Column("outlet_id", sa.String(32), sa.ForeignKey("outlets.outlet_id"), nullable=False, index=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("token_sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "capture_sessions",
        sa.Column("session_id", sa.String(32), primary_key=True),
        sa.Column("clerk_id", sa.String(32), sa.ForeignKey("clerks.clerk_id"), nullable=False, index=True),
        sa.Column("outlet_id", sa.String(32), sa.ForeignKey("outlets.outlet_id"), nullable=False),
        sa.Column("challenge", sa.Text, nullable=False),
        sa.Column("nonce", sa.String(64), nullable=False, unique=True),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("capture_sessions")
    op.drop_table("clerks")
    op.drop_table("outlets")
