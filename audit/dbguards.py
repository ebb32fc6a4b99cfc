"""Database-level guards that make a table append-only, on PostgreSQL and on SQLite.

``AppendOnlyGuard`` installs triggers that reject UPDATE and DELETE of any row and, on PostgreSQL,
TRUNCATE (optionally only while the table holds rows, so that an empty table can be flushed). The
audit log uses it here; other append-only tables (disposal certificates) use their own instance.
Migrations install the guards; ``install`` is idempotent so maintenance code and tests can
re-establish them.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.backends.base.base import BaseDatabaseWrapper


@dataclass(frozen=True)
class AppendOnlyGuard:
    table: str
    label: str
    allow_empty_truncate: bool = False

    def _postgres_install(self) -> list[str]:
        t, label = self.table, self.label
        truncate_body = (
            f"IF EXISTS (SELECT 1 FROM {t}) THEN RAISE EXCEPTION '{label} is append-only (TRUNCATE rejected)' "
            "USING ERRCODE = 'insufficient_privilege'; END IF; RETURN NULL;"
            if self.allow_empty_truncate
            else f"RAISE EXCEPTION '{label} is append-only (TRUNCATE rejected)' USING ERRCODE = 'insufficient_privilege';"
        )
        return [
            f"""CREATE OR REPLACE FUNCTION {t}_reject() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              RAISE EXCEPTION '{label} is append-only (% rejected)', TG_OP USING ERRCODE = 'insufficient_privilege';
            END $$;""",
            f"""CREATE OR REPLACE FUNCTION {t}_reject_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN {truncate_body} END $$;""",
            f"DROP TRIGGER IF EXISTS {t}_no_update_delete ON {t}",
            f"""CREATE TRIGGER {t}_no_update_delete BEFORE UPDATE OR DELETE ON {t}
                FOR EACH ROW EXECUTE FUNCTION {t}_reject()""",
            f"DROP TRIGGER IF EXISTS {t}_no_truncate ON {t}",
            f"""CREATE TRIGGER {t}_no_truncate BEFORE TRUNCATE ON {t}
                FOR EACH STATEMENT EXECUTE FUNCTION {t}_reject_truncate()""",
        ]

    def _sqlite_install(self) -> list[str]:
        t, label = self.table, self.label
        return [
            f"""CREATE TRIGGER IF NOT EXISTS {t}_no_update BEFORE UPDATE ON {t}
                BEGIN SELECT RAISE(ABORT, '{label} is append-only (UPDATE rejected)'); END""",
            f"""CREATE TRIGGER IF NOT EXISTS {t}_no_delete BEFORE DELETE ON {t}
                BEGIN SELECT RAISE(ABORT, '{label} is append-only (DELETE rejected)'); END""",
        ]

    def _statements(self, connection: BaseDatabaseWrapper, *, install: bool) -> list[str]:
        t = self.table
        if connection.vendor == "postgresql":
            if install:
                return self._postgres_install()
            return [f"DROP TRIGGER IF EXISTS {t}_no_update_delete ON {t}", f"DROP TRIGGER IF EXISTS {t}_no_truncate ON {t}"]
        if connection.vendor == "sqlite":
            if install:
                return self._sqlite_install()
            return [f"DROP TRIGGER IF EXISTS {t}_no_update", f"DROP TRIGGER IF EXISTS {t}_no_delete"]
        raise NotImplementedError(f"no append-only guard for database vendor {connection.vendor!r}")

    def install(self, connection: BaseDatabaseWrapper) -> None:
        with connection.cursor() as cursor:
            for statement in self._statements(connection, install=True):
                cursor.execute(statement)

    def remove(self, connection: BaseDatabaseWrapper) -> None:
        """Drop the guards. Only for a database owner's deliberate maintenance (and the test suite)."""
        with connection.cursor() as cursor:
            for statement in self._statements(connection, install=False):
                cursor.execute(statement)

    def installed(self, connection: BaseDatabaseWrapper) -> bool:
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute(
                    "SELECT count(*) FROM pg_trigger WHERE tgrelid = %s::regclass AND NOT tgisinternal AND tgenabled <> 'D'",
                    [self.table],
                )
            else:
                cursor.execute("SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND tbl_name = %s", [self.table])
            return cursor.fetchone()[0] >= 2


TABLE = "audit_auditevent"
GUARD = AppendOnlyGuard(TABLE, "audit_event")
install = GUARD.install
remove = GUARD.remove
installed = GUARD.installed
