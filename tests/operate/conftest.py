"""The storage suite's throwaway PostgreSQL (``tests/storage/conftest.py``), for the database
commands' tests: imported, not copied, so both suites start it the same way and skip or fail by the
same rule (``COUNCILBOT_REQUIRE_POSTGRES``)."""

from storage.conftest import fresh_db, pg_server  # noqa: F401  (fixtures: pytest finds them by name here)
