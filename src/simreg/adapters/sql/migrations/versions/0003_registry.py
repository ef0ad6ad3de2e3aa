"""registry: persons, numbers, registrations, consents, idempotency keys, attempts

Revision ID: 0003
Revises: 0002
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Clear ID and phone numbers never appear in these tables: a keyed blind
    # index for lookups plus an AES-GCM envelope (adapters/crypto.py).
    op.create_table(
        "persons",
        sa.Column("person_id", sa.String(32), primary_key=True, nullable=False),
        sa.Column("id_index", sa.String(80), nullable=False, unique=True),
        sa.Column("id_type", sa.String(24), nullable=False),
        sa.Column("jurisdiction", sa.String(8), nullable=False),
        sa.Column("id_ciphertext", sa.Text(), nullable=False),
        sa.Column("name_ciphertext", sa.Text(), nullable=False),
        sa.Column("data_key_wrapped", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "person_index_aliases",
        sa.Column("id_index", sa.String(80), primary_key=True, nullable=False),
        sa.Column("person_id", sa.String(32), sa.ForeignKey("persons.person_id"), nullable=False),
    )
    op.create_index("ix_person_index_aliases_person_id", "person_index_aliases", ["person_id"])
    op.create_table(
        "numbers",
        sa.Column("number_id", sa.String(32), primary_key=True, nullable=False),
        sa.Column("number_index", sa.String(80), nullable=False, unique=True),
        sa.Column("number_ciphertext", sa.Text(), nullable=False),
        sa.Column("number_masked", sa.String(24), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("person_id", sa.String(32), sa.ForeignKey("persons.person_id"), nullable=True),
        sa.Column("registration_id", sa.String(32), nullable=True),
        sa.Column("outlet_id", sa.String(32), nullable=True),
        sa.Column("state_changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_numbers_state", "numbers", ["state"])
    op.create_index("ix_numbers_person_id", "numbers", ["person_id"])
    op.create_table(
        "registrations",
        sa.Column("registration_id", sa.String(32), primary_key=True, nullable=False),
        sa.Column("path", sa.String(16), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("decided_outcome", sa.String(16), nullable=False),
        sa.Column("reasons", sa.Text(), nullable=False),
        sa.Column("scores", sa.Text(), nullable=False),
        sa.Column("clerk_id", sa.String(32), sa.ForeignKey("clerks.clerk_id"), nullable=False),
        sa.Column("outlet_id", sa.String(32), sa.ForeignKey("outlets.outlet_id"), nullable=False),
        sa.Column("session_id", sa.String(32), nullable=True, unique=True),
        sa.Column("person_id", sa.String(32), sa.ForeignKey("persons.person_id"), nullable=True),
        sa.Column("id_index", sa.String(80), nullable=False),
        sa.Column("number_id", sa.String(32), sa.ForeignKey("numbers.number_id"), nullable=True),
        sa.Column("model_ids", sa.Text(), nullable=False),
        sa.Column("policy_sha256", sa.String(64), nullable=False),
        sa.Column("statement", sa.Text(), nullable=True),
        sa.Column("reviewed_by", sa.String(32), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("review_reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("audit_position", sa.Integer(), nullable=True),
    )
    op.create_index("ix_registrations_outcome", "registrations", ["outcome"])
    op.create_index("ix_registrations_clerk_id", "registrations", ["clerk_id"])
    op.create_index("ix_registrations_outlet_id", "registrations", ["outlet_id"])
    op.create_index("ix_registrations_person_id", "registrations", ["person_id"])
    op.create_index("ix_registrations_id_index", "registrations", ["id_index"])
    op.create_index("ix_registrations_created_at", "registrations", ["created_at"])
    op.create_table(
        "consents",
        sa.Column("consent_id", sa.String(32), primary_key=True, nullable=False),
        sa.Column("registration_id", sa.String(32), sa.ForeignKey("registrations.registration_id"), nullable=False),
        sa.Column("person_id", sa.String(32), sa.ForeignKey("persons.person_id"), nullable=True),
        sa.Column("purpose", sa.String(64), nullable=False),
        sa.Column("text_version", sa.String(64), nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("retention_days", sa.Integer(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("withdrawn_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_consents_registration_id", "consents", ["registration_id"])
    op.create_index("ix_consents_person_id", "consents", ["person_id"])
    op.create_table(
        "idempotency_keys",
        sa.Column("clerk_id", sa.String(32), primary_key=True, nullable=False),
        sa.Column("key", sa.String(128), primary_key=True, nullable=False),
        sa.Column("request_digest", sa.String(80), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("response", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "attempts",
        sa.Column("attempt_id", sa.Integer(), primary_key=True, autoincrement=True, nullable=False),
        sa.Column("id_index", sa.String(80), nullable=False),
        sa.Column("clerk_id", sa.String(32), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("failed", sa.Boolean(), nullable=False),
        sa.Column("registration_id", sa.String(32), nullable=True),
    )
    op.create_index("ix_attempts_id_index", "attempts", ["id_index"])
    op.create_index("ix_attempts_clerk_id", "attempts", ["clerk_id"])
    op.create_index("ix_attempts_at", "attempts", ["at"])
    op.create_table(
        "meta",
        sa.Column("key", sa.String(64), primary_key=True, nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
    )


def downgrade() -> None:
    for t in ['meta', 'attempts', 'idempotency_keys', 'consents', 'registrations', 'numbers', 'person_index_aliases',
              'persons']:
        op.drop_table(t)
