"""audit tree frontier, templates, disputes

Revision ID: 0004
Revises: 0003
"""
import json

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_tree",
        sa.Column("tree_id", sa.Integer(), primary_key=True, autoincrement=False, nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("state", sa.Text(), nullable=False),
    )
    op.create_table(
        "templates",
        sa.Column("template_id", sa.String(32), primary_key=True, nullable=False),
        sa.Column("person_id", sa.String(32), sa.ForeignKey("persons.person_id"), nullable=False),
        sa.Column("registration_id", sa.String(32), nullable=False),
        sa.Column("model_id", sa.String(64), nullable=False),
        sa.Column("sealed", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_templates_person_id", "templates", ["person_id"])
    op.create_index("ix_templates_expires_at", "templates", ["expires_at"])
    op.create_table(
        "disputes",
        sa.Column("dispute_id", sa.String(32), primary_key=True, nullable=False),
        sa.Column("number_id", sa.String(32), sa.ForeignKey("numbers.number_id"), nullable=False),
        sa.Column("person_id", sa.String(32), sa.ForeignKey("persons.person_id"), nullable=False),
        sa.Column("registration_id", sa.String(32), nullable=True),
        sa.Column("outlet_id", sa.String(32), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_by", sa.String(32), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolution", sa.Text(), nullable=True),
    )
    for col in ("number_id", "person_id", "outlet_id", "status"):
        op.create_index(f"ix_disputes_{col}", "disputes", [col])
    # the frontier of the entries already in the log
    from simreg.domain.merkle import TreeHeads

    heads = TreeHeads()
    bind = op.get_bind()
    for (entry_hash,) in bind.execute(sa.text("SELECT entry_hash FROM audit_entries ORDER BY position")):
        heads.append(bytes.fromhex(entry_hash))
    bind.execute(sa.text("INSERT INTO audit_tree (tree_id, size, state) VALUES (1, :size, :state)"),
                 {"size": heads.size, "state": json.dumps(heads.to_state())})


def downgrade() -> None:
    for t in ("disputes", "templates", "audit_tree"):
        op.drop_table(t)
