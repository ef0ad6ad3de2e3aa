"""root log: each root checkpoint keeps the inclusion proof of the entry it was made with

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


def downgrade() -> None:
    with op.batch_alter_table("audit_shard_checkpoints") as batch:
        batch.drop_column("proof")
