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
