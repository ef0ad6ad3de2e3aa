"""The migrations build exactly the tables schema.py names, on SQLite and PostgreSQL,
and running them again changes nothing."""

from __future__ import annotations

from sqlalchemy import inspect

from simreg.adapters.sql.database import open_database
from simreg.adapters.sql.migrate import upgrade_to_head
from simreg.adapters.sql.schema import metadata


def test_the_migrated_schema_is_the_one_the_code_names(database_url):
    db = open_database(database_url)
    try:
        upgrade_to_head(db)
        upgrade_to_head(db)  # idempotent: already at head
        insp = inspect(db)
        tables = set(insp.get_table_names()) - {"alembic_version"}
        assert tables == set(metadata.tables)
        for name, table in metadata.tables.items():
            migrated = {c["name"]: c for c in insp.get_columns(name)}
            assert set(migrated) == {c.name for c in table.columns}, name
            for col in table.columns:
                assert migrated[col.name]["nullable"] == col.nullable, f"{name}.{col.name}"
            assert set(insp.get_pk_constraint(name)["constrained_columns"]) == {c.name for c in table.primary_key}
    finally:
        db.dispose()


# -- several servers starting at once ----------------------------------------------------------

def _start_service_database(url: str, keyring_file: str, barrier, results) -> None:
    """What ``simreg serve`` does with the database at start-up (migrate, then
    record or check the keyring), in its own process, released with the others."""
    from simreg.config import Settings
    from simreg.runtime import open_service_database

    settings = Settings(database_url=url, keyring_file=keyring_file)
    barrier.wait(timeout=60)
    try:
        db, _ = open_service_database(settings)
        db.dispose()
        results.put("ok")
    except BaseException as exc:  # reported to the test, which names it
        results.put(f"{type(exc).__name__}: {exc}"[:400])


def test_three_servers_starting_at_once_on_a_fresh_database_all_start(database_url, tmp_path):
    import multiprocessing

    from sqlalchemy import text

    ctx = multiprocessing.get_context("spawn")  # processes, as three servers are: no shared locks or engines
    barrier, results = ctx.Barrier(3), ctx.Queue()
    keyring_file = str(tmp_path / "keyring.json")  # absent: the first start creates it, the others load it
    procs = [ctx.Process(target=_start_service_database, args=(database_url, keyring_file, barrier, results))
             for _ in range(3)]
    for p in procs:
        p.start()
    outcomes = sorted(results.get(timeout=120) for _ in procs)
    for p in procs:
        p.join(timeout=30)
    assert outcomes == ["ok", "ok", "ok"], outcomes
    db = open_database(database_url)
    try:
        with db.connect() as c:
            versions = c.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
            fingerprints = c.execute(text("SELECT count(*) FROM meta WHERE key = 'keyring_fingerprint'")).scalar_one()
        assert len(versions) == 1 and fingerprints == 1
        assert set(inspect(db).get_table_names()) - {"alembic_version"} == set(metadata.tables)
    finally:
        db.dispose()
