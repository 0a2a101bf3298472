"""What only PostgreSQL has: versioned migrations (fresh, again, behind, ahead, two replicas at
once, the command line), row-level security, and the suite's own skip-or-fail rule."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import psycopg
import pytest

from councilbot.storage.migrations import check_current, current_version, latest, upgrade
from councilbot.storage.port import SchemaBehind, StorageError
from councilbot.storage.postgres import open_postgres

from pg import APP_ROLE, PgServer

ROOT = Path(__file__).resolve().parents[2]


def test_upgrade_applies_every_version_once(fresh_db: str) -> None:
    assert latest() == 2
    assert current_version(fresh_db) == 0
    assert upgrade(fresh_db) == [1, 2]
    assert check_current(fresh_db) == 2
    assert upgrade(fresh_db) == []  # running it again changes nothing
    with psycopg.connect(fresh_db) as conn:
        rows = conn.execute("SELECT version, name FROM councilbot_schema ORDER BY version").fetchall()
    assert rows == [(1, "initial"), (2, "row_security")]


def test_a_database_behind_is_refused_naming_the_versions(fresh_db: str) -> None:
    with pytest.raises(SchemaBehind, match=r"schema version 0 but this CouncilBot needs version 2 .*0001_initial, 0002_row_security"):
        check_current(fresh_db)
    assert upgrade(fresh_db, target=1) == [1]
    with pytest.raises(SchemaBehind, match=r"schema version 1 but this CouncilBot needs version 2 \(not applied: 0002_row_security\); run: councilbot db upgrade"):
        check_current(fresh_db)


async def test_a_replica_will_not_start_on_a_database_behind(fresh_db: str) -> None:
    upgrade(fresh_db, target=1)
    with pytest.raises(SchemaBehind, match="version 1"):
        await open_postgres(fresh_db)
    upgrade(fresh_db)
    backend = await open_postgres(fresh_db)
    try:
        assert await backend.council("town").insert("reports", {"id": "R-1"})
    finally:
        await backend.close()


def test_a_database_ahead_of_this_version_is_refused(fresh_db: str) -> None:
    upgrade(fresh_db)
    with psycopg.connect(fresh_db) as conn:
        conn.execute("INSERT INTO councilbot_schema (version, name) VALUES (3, 'from_the_future')")
    with pytest.raises(SchemaBehind, match="version 3, newer than this CouncilBot"):
        check_current(fresh_db)


def test_replicas_upgrading_at_once_apply_each_version_once(fresh_db: str) -> None:
    results: list[list[int]] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(upgrade(fresh_db))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert not errors
    assert sorted(results) == [[], [], [1, 2]]


def test_the_upgrade_command(fresh_db: str, pg_server: PgServer) -> None:
    def storage(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "councilbot.storage", *args], capture_output=True, text=True, timeout=60)

    check = storage("check", fresh_db)
    assert check.returncode == 1 and "error: the database is at schema version 0" in check.stderr
    done = storage("upgrade", fresh_db)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "schema at version 2 (applied 1, 2)"
    again = storage("upgrade", fresh_db)
    assert again.returncode == 0 and again.stdout.strip() == "schema at version 2 (already up to date)"
    assert storage("check", fresh_db).stdout.strip() == "schema at version 2: up to date"
    # Bad input: a clear message and a non-zero exit, never a traceback.
    nowhere = storage("upgrade", pg_server.url("no_such_database"))
    assert nowhere.returncode == 2 and "error: cannot connect to the database" in nowhere.stderr
    assert "Traceback" not in nowhere.stderr
    usage = storage("downgrade", fresh_db)
    assert usage.returncode == 2 and "usage: python -m councilbot.storage upgrade|check" in usage.stderr


async def test_row_security_hides_other_councils_from_a_query_that_forgot_its_council(contract_db: str, council: str) -> None:
    backend = await open_postgres(contract_db)
    try:
        await backend.council(council).insert("reports", {"id": "R-1", "status": "open"})
        await backend.council(council + "-b").insert("reports", {"id": "R-1", "status": "open"})
    finally:
        await backend.close()
    # The application's own role (it owns the table), querying without a WHERE on the council.
    with psycopg.connect(contract_db) as conn:
        assert conn.execute("SELECT current_user").fetchone() == (APP_ROLE,)
        assert conn.execute("SELECT count(*) FROM councilbot_records").fetchone() == (0,)
        conn.execute("SELECT set_config('councilbot.council', %s, true)", [council])
        assert conn.execute("SELECT council, id FROM councilbot_records").fetchall() == [(council, "R-1")]
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="row-level security"):
            conn.execute("INSERT INTO councilbot_records VALUES (%s, 'reports', 'R-2', '{}')", [council + "-b"])


@pytest.mark.parametrize("require,outcome", [("", "1 skipped"), ("1", "1 error")])
def test_without_postgresql_binaries_the_tests_skip_or_with_the_ci_flag_fail(tmp_path: Path, require: str, outcome: str) -> None:
    env = {**os.environ, "COUNCILBOT_PG_BIN": str(tmp_path), "COUNCILBOT_REQUIRE_POSTGRES": require}
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:randomly", "-p", "no:cacheprovider", "-rse",
                           "tests/storage/test_contract.py::test_bad_names_are_refused[postgres]"],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert outcome in done.stdout, done.stdout
    assert "PostgreSQL binaries (initdb, pg_ctl) were not found" in done.stdout
    if require:
        assert done.returncode != 0 and "COUNCILBOT_REQUIRE_POSTGRES=1" in done.stdout
    else:
        assert done.returncode == 0


def test_bad_database_url_is_a_storage_error() -> None:
    with pytest.raises(StorageError, match="cannot connect"):
        current_version("postgresql://nobody@127.0.0.1:1/none?connect_timeout=2")
