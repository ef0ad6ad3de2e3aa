"""Bringing a database to the newest schema (Alembic, run in-process).

Several servers may start at the same moment on one fresh database (replicas of
a Deployment, ``simreg serve --workers N``).  Alembic itself does not guard
against that: two processes both see no ``alembic_version`` table and both
create it, and one crashes on a duplicate key.  So the whole upgrade runs in
one transaction that first takes a lock only migrations take:

* PostgreSQL: a transaction-level advisory lock (``pg_advisory_xact_lock``),
  keyed by the schema, released at commit or rollback, whatever happens to the
  process (a dropped connection releases it too);
* SQLite: ``BEGIN IMMEDIATE``, the database's single write lock, taken before
  the first read (the busy timeout makes the others wait for it).

The first process migrates and commits; the others wait, then find the schema
at head and change nothing.  DDL is transactional on both backends, so a
start that dies halfway leaves the schema as it was.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine

MIGRATIONS = Path(__file__).parent / "migrations"

#: The advisory lock's first key ("smrg"); the second is a hash of the schema, so
#: separate schemas of one database migrate independently.
ADVISORY_LOCK_CLASS = 0x736D7267


def take_migration_lock(conn: Connection) -> None:
    """Hold the migration lock until ``conn``'s transaction ends.  Call it first
    in the transaction, before anything reads the schema."""
    if conn.dialect.name == "postgresql":
        # coalesce: with no schema on the search path current_schema() is NULL,
        # and the (strict) lock function would return NULL without locking.
        conn.execute(text("SELECT pg_advisory_xact_lock(:cls, hashtext(coalesce(current_schema(), '')))"),
                     {"cls": ADVISORY_LOCK_CLASS})
    elif conn.dialect.name == "sqlite":
        # pysqlite has not begun a transaction yet (it begins lazily, before DML):
        # this BEGIN is the transaction, and SQLAlchemy's commit ends it.
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def upgrade_to_head(engine: Engine) -> None:
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        take_migration_lock(conn)
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
