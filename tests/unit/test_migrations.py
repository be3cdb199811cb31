"""Database lifecycle on SQLite and a real PostgreSQL: migrations from empty match the models, round-trip down and
up, the start-up schema check, and `hookline db upgrade` / `db current` as a user runs them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from shared import db
from shared.config import Settings, load_settings
from shared.models import Base
from shared.schema_check import DatabaseUnreachable, SchemaAhead, SchemaOutOfDate, require_current_schema

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database URL: a new SQLite file, or a fresh database on the throwaway PostgreSQL."""
    if request.param == "postgresql":
        return str(request.getfixturevalue("postgres_url"))
    return f"sqlite:///{tmp_path / 'var' / 'hookline.db'}"


def settings_for(url: str, tmp_path: Path) -> Settings:
    return load_settings({"HOOKLINE_VAR_DIR": str(tmp_path / "var"), "HOOKLINE_DATABASE_URL": url})


def schema_diff(settings: Settings) -> list[object]:
    with db.get_engine(settings).connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True, "compare_server_default": True})
        return list(compare_metadata(context, Base.metadata))


def test_migrations_from_empty_match_the_models(empty_database: str, tmp_path: Path) -> None:
    settings = settings_for(empty_database, tmp_path)
    assert db.current_revision(settings) is None
    db.upgrade(settings)

    assert db.current_revision(settings) == db.head_revision(settings)
    tables = set(inspect(db.get_engine(settings)).get_table_names())
    assert set(Base.metadata.tables) <= tables
    assert schema_diff(settings) == []


def test_migrations_round_trip_down_to_empty_and_up_again(empty_database: str, tmp_path: Path) -> None:
    settings = settings_for(empty_database, tmp_path)
    db.upgrade(settings)
    command.downgrade(db.alembic_config(settings), "base")
    engine = db.get_engine(settings)
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    assert db.current_revision(settings) is None

    db.upgrade(settings)
    db.upgrade(settings)  # idempotent
    assert schema_diff(settings) == []


def test_schema_check_names_the_upgrade_command_until_the_database_is_at_head(
    empty_database: str, tmp_path: Path
) -> None:
    settings = settings_for(empty_database, tmp_path)
    with pytest.raises(SchemaOutOfDate) as behind:
        require_current_schema(settings)
    assert "hookline db upgrade" in str(behind.value)
    assert behind.value.current is None and behind.value.head == db.head_revision(settings)

    db.upgrade(settings)
    assert require_current_schema(settings) == db.head_revision(settings)

    command.stamp(db.alembic_config(settings), "base")
    with pytest.raises(SchemaOutOfDate, match="hookline db upgrade"):
        require_current_schema(settings)


def test_schema_check_refuses_a_database_migrated_by_newer_code(empty_database: str, tmp_path: Path) -> None:
    settings = settings_for(empty_database, tmp_path)
    db.upgrade(settings)
    with db.get_engine(settings).begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = 'ffff_from_the_future'")
    with pytest.raises(SchemaAhead, match="ffff_from_the_future"):
        require_current_schema(settings)


def test_schema_check_reports_an_unreachable_database_without_its_password(tmp_path: Path) -> None:
    from shared.cli.stack import free_port

    url = f"postgresql+psycopg://hookline:s3cret-pw@127.0.0.1:{free_port()}/nothing?connect_timeout=2"
    with pytest.raises(DatabaseUnreachable) as unreachable:
        require_current_schema(settings_for(url, tmp_path))
    assert "s3cret-pw" not in str(unreachable.value)
    assert "127.0.0.1" in str(unreachable.value)


def run_cli(*args: str, url: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "HOOKLINE_VAR_DIR": str(tmp_path / "var"), "HOOKLINE_DATABASE_URL": url}
    return subprocess.run([sys.executable, "-m", "shared.cli", *args], env=env, cwd=REPO, capture_output=True,
                          text=True, timeout=120, check=False)


def test_cli_db_upgrade_and_current(empty_database: str, tmp_path: Path) -> None:
    settings = settings_for(empty_database, tmp_path)
    head = db.head_revision(settings)

    before = run_cli("db", "current", url=empty_database, tmp_path=tmp_path)
    assert before.returncode == 0, before.stderr
    assert before.stdout.strip() == f"current=None head={head}"

    upgraded = run_cli("db", "upgrade", url=empty_database, tmp_path=tmp_path)
    assert upgraded.returncode == 0, upgraded.stderr
    assert upgraded.stdout.strip() == f"database at revision {head}"

    after = run_cli("db", "current", url=empty_database, tmp_path=tmp_path)
    assert after.stdout.strip() == f"current={head} head={head}"
    assert schema_diff(settings) == []

    again = run_cli("db", "upgrade", url=empty_database, tmp_path=tmp_path)
    assert again.returncode == 0 and again.stdout.strip() == f"database at revision {head}"
