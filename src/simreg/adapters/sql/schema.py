"""Tables (SQLAlchemy Core).  Migrations in ``migrations/`` create them; this
module is the one place that names columns."""

from __future__ import annotations

from sqlalchemy import BigInteger, Boolean, Column, DateTime, ForeignKey, Index, Integer, MetaData, String, Table, Text

metadata = MetaData()

outlets = Table(
    "outlets", metadata,
    Column("outlet_id", String(32), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

clerks = Table(
    "clerks", metadata,
    Column("clerk_id", String(32), primary_key=True),
    Column("outlet_id", String(32), ForeignKey("outlets.outlet_id"), nullable=False, index=True),
    Column("name", String(200), nullable=False),
    Column("role", String(16), nullable=False),
    # SHA-256 of the bearer token; the token itself is shown once and never stored.
    Column("token_sha256", String(64), nullable=False, unique=True),
    Column("active", Boolean, nullable=False, default=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

capture_sessions = Table(
    "capture_sessions", metadata,
    Column("session_id", String(32), primary_key=True),
    Column("clerk_id", String(32), ForeignKey("clerks.clerk_id"), nullable=False, index=True),
    Column("outlet_id", String(32), ForeignKey("outlets.outlet_id"), nullable=False),
    Column("challenge", Text, nullable=False),        # comma-separated actions
    Column("nonce", String(64), nullable=False, unique=True),
    Column("issued_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
    Column("used_at", DateTime(timezone=True), nullable=True),
)

def _entry_columns(chained: bool = False) -> list[Column]:
    """An audit entry's hashed content, as every log's table stores it (the global
    chain, the outbox, the shards); ``chained``: with its link and its own hash.
    Fresh Column objects each time: a column belongs to one table."""
    names = ["timestamp", "actor", "action", "subject", "details", "model_ids", "policy_sha256"]
    names += ["prev_hash", "entry_hash"] if chained else []
    return [Column(n, Text, nullable=False) for n in names]


audit_entries = Table(
    "audit_entries", metadata,
    Column("position", Integer, primary_key=True, autoincrement=False),
    *_entry_columns(chained=True),
)

# --- registry (migration 0003) ------------------------------------------------
# Clear ID numbers and phone numbers never appear here: each is a keyed blind
# index (HMAC-SHA256, "<key id>:<hex>") for lookups plus an AES-GCM envelope.

persons = Table(
    "persons", metadata,
    Column("person_id", String(32), primary_key=True),
    Column("id_index", String(80), nullable=False, unique=True),
    Column("id_type", String(24), nullable=False),
    Column("jurisdiction", String(8), nullable=False),
    Column("id_ciphertext", Text, nullable=False),
    Column("name_ciphertext", Text, nullable=False),
    # the person's data key (wrapped by the keyring) for biometric templates;
    # deleting it crypto-shreds every template sealed under it
    Column("data_key_wrapped", Text, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

# blind indexes of earlier index keys, so a rotation keeps old lookups resolvable
person_index_aliases = Table(
    "person_index_aliases", metadata,
    Column("id_index", String(80), primary_key=True),
    Column("person_id", String(32), ForeignKey("persons.person_id"), nullable=False, index=True),
)

numbers = Table(
    "numbers", metadata,
    Column("number_id", String(32), primary_key=True),
    Column("number_index", String(80), nullable=False, unique=True),
    Column("number_ciphertext", Text, nullable=False),
    Column("number_masked", String(24), nullable=False),
    Column("state", String(16), nullable=False, index=True),
    Column("person_id", String(32), ForeignKey("persons.person_id"), nullable=True, index=True),
    Column("registration_id", String(32), nullable=True),
    Column("outlet_id", String(32), nullable=True),
    Column("state_changed_at", DateTime(timezone=True), nullable=False),
    Column("released_at", DateTime(timezone=True), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

registrations = Table(
    "registrations", metadata,
    Column("registration_id", String(32), primary_key=True),
    Column("path", String(16), nullable=False),            # face | alternative
    Column("outcome", String(16), nullable=False, index=True),  # approved | rejected | review (current)
    Column("decided_outcome", String(16), nullable=False),  # what the pipeline decided
    Column("reasons", Text, nullable=False),               # JSON list of reason codes
    Column("scores", Text, nullable=False),                # JSON
    Column("clerk_id", String(32), ForeignKey("clerks.clerk_id"), nullable=False, index=True),
    Column("outlet_id", String(32), ForeignKey("outlets.outlet_id"), nullable=False, index=True),
    Column("session_id", String(32), nullable=True, unique=True),
    Column("person_id", String(32), ForeignKey("persons.person_id"), nullable=True, index=True),
    Column("id_index", String(80), nullable=False, index=True),
    Column("number_id", String(32), ForeignKey("numbers.number_id"), nullable=True),
    Column("model_ids", Text, nullable=False),
    Column("policy_sha256", String(64), nullable=False),
    Column("statement", Text, nullable=True),              # the supervisor's stated reason (alternative path)
    Column("reviewed_by", String(32), nullable=True),
    Column("reviewed_at", DateTime(timezone=True), nullable=True),
    Column("review_reason", Text, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, index=True),
    Column("audit_position", Integer, nullable=True),
    # a sharded audit log (migration 0007): the decision entry's shard and outbox id
    Column("audit_shard", String(32), nullable=True),
    Column("audit_outbox_id", BigInteger, nullable=True),
)

consents = Table(
    "consents", metadata,
    Column("consent_id", String(32), primary_key=True),
    Column("registration_id", String(32), ForeignKey("registrations.registration_id"), nullable=False, index=True),
    Column("person_id", String(32), ForeignKey("persons.person_id"), nullable=True, index=True),
    Column("purpose", String(64), nullable=False),
    Column("text_version", String(64), nullable=False),
    Column("accepted_at", DateTime(timezone=True), nullable=False),
    Column("retention_days", Integer, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("withdrawn_at", DateTime(timezone=True), nullable=True),
)

idempotency_keys = Table(
    "idempotency_keys", metadata,
    Column("clerk_id", String(32), primary_key=True),
    Column("key", String(128), primary_key=True),
    Column("request_digest", String(80), nullable=False),
    Column("state", String(16), nullable=False),            # pending | done
    Column("response", Text, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
)

attempts = Table(
    "attempts", metadata,
    Column("attempt_id", Integer, primary_key=True, autoincrement=True),
    Column("id_index", String(80), nullable=False, index=True),
    Column("clerk_id", String(32), nullable=False, index=True),
    Column("at", DateTime(timezone=True), nullable=False, index=True),
    Column("failed", Boolean, nullable=False),
    Column("registration_id", String(32), nullable=True),
)

meta = Table(
    "meta", metadata,
    Column("key", String(64), primary_key=True),
    Column("value", Text, nullable=False),
)


# --- privacy and receipts (migration 0004) -------------------------------------

# The Merkle tree's frontier over the audit log (one row), updated with every
# append in the same transaction, so a receipt's signed tree head costs O(log n).
# A cache: verification always recomputes from the entries.
audit_tree = Table(
    "audit_tree", metadata,
    Column("tree_id", Integer, primary_key=True, autoincrement=False),
    Column("size", Integer, nullable=False),
    Column("state", Text, nullable=False),
)

# Live-face templates, only when configured on: sealed (AES-GCM) under the
# person's own data key (persons.data_key_wrapped); deleting that key shreds them.
templates = Table(
    "templates", metadata,
    Column("template_id", String(32), primary_key=True),
    Column("person_id", String(32), ForeignKey("persons.person_id"), nullable=False, index=True),
    Column("registration_id", String(32), nullable=False),
    Column("model_id", String(64), nullable=False),
    Column("sealed", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False, index=True),
)

# "Not my number": a citizen's flag on a number registered under their ID.
disputes = Table(
    "disputes", metadata,
    Column("dispute_id", String(32), primary_key=True),
    Column("number_id", String(32), ForeignKey("numbers.number_id"), nullable=False, index=True),
    Column("person_id", String(32), ForeignKey("persons.person_id"), nullable=False, index=True),
    Column("registration_id", String(32), nullable=True),
    Column("outlet_id", String(32), nullable=True, index=True),
    Column("status", String(16), nullable=False, index=True),     # open | upheld | dismissed
    Column("raised_at", DateTime(timezone=True), nullable=False),
    Column("resolved_by", String(32), nullable=True),
    Column("resolved_at", DateTime(timezone=True), nullable=True),
    Column("resolution", Text, nullable=True),
)

# --- citizen lookups (migration 0005) -------------------------------------------
# A citizen who proved who they are (document + live video matched to the
# portrait) gets a short-lived grant to see and dispute their own numbers.
lookup_grants = Table(
    "lookup_grants", metadata,
    Column("token_sha256", String(64), primary_key=True),
    Column("person_id", String(32), nullable=True),          # None: no registration under that ID
    Column("id_index", String(80), nullable=False),
    Column("clerk_id", String(32), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)


# --- the sharded audit log (migration 0006; docs/design/audit-log.md, "The log at scale") -----
_BIGINT = BigInteger().with_variant(Integer(), "sqlite")

audit_outbox = Table(
    "audit_outbox", metadata,
    Column("outbox_id", _BIGINT, primary_key=True, autoincrement=True),
    Column("shard", String(32), nullable=False),
    *_entry_columns(),
    Index("ix_audit_outbox_shard", "shard", "outbox_id"),
    sqlite_autoincrement=True,  # ids of deleted (sequenced) rows are never reused
)

audit_shard_entries = Table(
    "audit_shard_entries", metadata,
    Column("shard", String(32), primary_key=True),
    Column("position", BigInteger, primary_key=True, autoincrement=False),
    *_entry_columns(chained=True),
    Column("outbox_id", BigInteger, nullable=True, unique=True),
)

audit_shard_heads = Table(
    "audit_shard_heads", metadata,
    Column("shard", String(32), primary_key=True),
    Column("size", BigInteger, nullable=False),
    Column("head_hash", Text, nullable=False),
    Column("state", Text, nullable=False),
)

audit_shard_checkpoints = Table(
    "audit_shard_checkpoints", metadata,
    Column("shard", String(32), primary_key=True),
    Column("size", BigInteger, primary_key=True, autoincrement=False),
    Column("root_hash", Text, nullable=False),
    Column("timestamp", Text, nullable=False),
    Column("note", Text, nullable=True),
    Column("root_position", BigInteger, nullable=True),
    # root checkpoints only: the inclusion proof of the root entry they were made
    # with (migration 0007), JSON list of hex hashes
    Column("proof", Text, nullable=True),
)
