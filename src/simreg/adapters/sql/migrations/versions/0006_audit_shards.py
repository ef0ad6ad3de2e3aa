"""sharded audit log: outbox, shard entries, shard heads, checkpoints

Revision ID: 0006
Revises: 0005
"""
import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # SQLite autoincrements INTEGER only


def upgrade() -> None:
    # Decisions waiting for a position in their shard; the sequencer deletes a
    # row in the transaction that sequences it (exactly once).
    op.create_table(
        "audit_outbox",
        sa.Column("outbox_id", _BIGINT, primary_key=True, autoincrement=True),
        sa.Column("shard", sa.String(32), nullable=False),
        sa.Column("timestamp", sa.Text, nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("details", sa.Text, nullable=False),
        sa.Column("model_ids", sa.Text, nullable=False),
        sa.Column("policy_sha256", sa.Text, nullable=False),
        # SQLite would reuse the ids of deleted rows without AUTOINCREMENT; an
        # outbox id must name one entry forever (receipts ask by it).
        sqlite_autoincrement=True,
    )
    op.create_index("ix_audit_outbox_shard", "audit_outbox", ["shard", "outbox_id"])
    # Every shard's entries and the root log's ("root"), stored exactly as hashed.
    op.create_table(
        "audit_shard_entries",
        sa.Column("shard", sa.String(32), primary_key=True),
        sa.Column("position", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("timestamp", sa.Text, nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("subject", sa.Text, nullable=False),
        sa.Column("details", sa.Text, nullable=False),
        sa.Column("model_ids", sa.Text, nullable=False),
        sa.Column("policy_sha256", sa.Text, nullable=False),
        sa.Column("prev_hash", sa.Text, nullable=False),
        sa.Column("entry_hash", sa.Text, nullable=False),
        sa.Column("outbox_id", sa.BigInteger, nullable=True, unique=True),
    )
    # One row per log: its size, last entry hash and Merkle frontier.  The
    # sequencer locks it (one sequencer per shard at a time).
    op.create_table(
        "audit_shard_heads",
        sa.Column("shard", sa.String(32), primary_key=True),
        sa.Column("size", sa.BigInteger, nullable=False),
        sa.Column("head_hash", sa.Text, nullable=False),
        sa.Column("state", sa.Text, nullable=False),
    )
    # One checkpoint per batch: the C2SP signed note (NULL when no key signs).
    op.create_table(
        "audit_shard_checkpoints",
        sa.Column("shard", sa.String(32), primary_key=True),
        sa.Column("size", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("root_hash", sa.Text, nullable=False),
        sa.Column("timestamp", sa.Text, nullable=False),
        sa.Column("note", sa.Text, nullable=True),
        sa.Column("root_position", sa.BigInteger, nullable=True),  # its entry in the root log
    )


def downgrade() -> None:
    for t in ("audit_shard_checkpoints", "audit_shard_heads", "audit_shard_entries", "audit_outbox"):
        op.drop_table(t)
