"""Opening the database: an embedded SQLite file by default (WAL mode), or any
SQLAlchemy URL (PostgreSQL in production)."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DataError, SQLAlchemyError


def open_database(url: str, read_only: bool = False) -> Engine:
    """``read_only``: for offline checks (audit verify): SQLite is opened with
    ``mode=ro`` and no pragma that would write (WAL mode is a write)."""
    parsed = make_url(url)
    if read_only and parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        path = Path(parsed.database).resolve()
        return create_engine(f"sqlite:///file:{path}?mode=ro&uri=true", connect_args={"timeout": 30})
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


def database_status(engine: Engine) -> dict:
    """Backend name, the URL without its password, and whether it answers."""
    info: dict[str, object] = {"backend": engine.dialect.name, "url": engine.url.render_as_string(hide_password=True)}
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        info["ok"] = True
    except SQLAlchemyError as exc:
        info["ok"] = False
        info["error"] = type(exc).__name__
    return info


def lock_for_write(conn) -> None:
    """Take SQLite's write lock now, before the transaction's first read.

    In WAL mode a deferred transaction that reads and then writes fails with
    SQLITE_BUSY (not retried by the busy timeout) when another writer committed
    in between; taking the lock first makes concurrent writers queue instead.
    PostgreSQL needs nothing here: its callers lock the rows they change."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("UPDATE audit_entries SET actor = actor WHERE position = -1")


def for_update(query, conn, skip_locked: bool = False):
    """``query`` locking the rows it reads until commit (PostgreSQL's FOR UPDATE;
    on SQLite :func:`lock_for_write` already serialises writers)."""
    return query.with_for_update(skip_locked=skip_locked) if conn.dialect.name == "postgresql" else query


#: The storage's own exceptions, for the HTTP layer's one mapping point
#: (http/errors.py), so that it knows what they mean without importing the
#: database library: the database refused a value the client sent (a NUL byte,
#: an out-of-range number), and any other failure (down, dropped, timed out).
#: Either way the transaction was rolled back and nothing was stored.
REFUSED_VALUE_ERRORS: tuple[type[Exception], ...] = (DataError,)
STORAGE_ERRORS: tuple[type[Exception], ...] = (SQLAlchemyError,)
