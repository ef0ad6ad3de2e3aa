"""Tables (SQLAlchemy Core).  Migrations in ``migrations/`` create them; this
module is the one place that names columns."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, DateTime, ForeignKey, Integer, MetaData, String, Table, Text

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

audit_entries = Table(
    "audit_entries", metadata,
    Column("position", Integer, primary_key=True, autoincrement=False),
    Column("timestamp", Text, nullable=False),
    Column("actor", Text, nullable=False),
    Column("action", Text, nullable=False),
    Column("subject", Text, nullable=False),
    Column("details", Text, nullable=False),
    Column("model_ids", Text, nullable=False),
    Column("policy_sha256", Text, nullable=False),
    Column("prev_hash", Text, nullable=False),
    Column("entry_hash", Text, nullable=False),
)
