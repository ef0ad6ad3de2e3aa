"""root log proofs kept; a registration remembers its audit entry in a sharded log

Each root checkpoint keeps the inclusion proof of the entry it was made with, and
a registration keeps the shard and outbox id of its audit entry (its position is
only known once the sequencer has run).

Revision ID: 0007
Revises: 0006
"""
import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The root checkpoint of size p + 1 is made right after root entry p; the proof
    # of that last leaf is the frontier of the first p entries, known to the
    # sequencer at that moment.  Kept, a receipt's link into the root log costs one
    # row instead of reading the whole root log.  JSON list of hex hashes; null for
    # shard checkpoints and for root checkpoints made before this revision.
    with op.batch_alter_table("audit_shard_checkpoints") as batch:
        batch.add_column(sa.Column("proof", sa.Text, nullable=True))
    # where a registration's decision waits or sits in a sharded log (both null in
    # the global chain, where audit_position says it)
    with op.batch_alter_table("registrations") as batch:
        batch.add_column(sa.Column("audit_shard", sa.String(32), nullable=True))
        batch.add_column(sa.Column("audit_outbox_id", sa.BigInteger, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("registrations") as batch:
        batch.drop_column("audit_outbox_id")
        batch.drop_column("audit_shard")
    with op.batch_alter_table("audit_shard_checkpoints") as batch:
        batch.drop_column("proof")
