"""PostgreSQL row-level security of the tenant-owned tables (see ``core.tenancy``).

``FUNCTIONS`` reads the transaction's scope; ``policy(table, condition)`` enables row-level
security on a table with one policy for every command, ``USING`` and ``WITH CHECK`` alike:
``portal_scope_all() OR <condition>``, where the condition names the insurer or institution the row
belongs to (``portal_scope_insurer()``, ``portal_scope_institution()``), directly or through a row
of another tenant table (whose own policy then applies too).

The table owner bypasses these policies (migrations, maintenance); the application must connect as
a role that does not own the tables (``manage.py db_grant_app_role``). Each app's migration installs
the policies of its own tables; SQLite has no row-level security and is left alone.
"""

from __future__ import annotations

from typing import Any

POLICY = "tenant_scope"

FUNCTIONS = [
    """CREATE OR REPLACE FUNCTION portal_scope_all() RETURNS boolean LANGUAGE sql STABLE AS $$
         SELECT coalesce(current_setting('portal.scope', true), '') = 'agency' $$""",
    """CREATE OR REPLACE FUNCTION portal_scope_insurer() RETURNS bigint LANGUAGE sql STABLE AS $$
         SELECT CASE WHEN current_setting('portal.scope', true) ~ '^insurer:[0-9]+$'
                     THEN substr(current_setting('portal.scope', true), 9)::bigint END $$""",
    """CREATE OR REPLACE FUNCTION portal_scope_institution() RETURNS bigint LANGUAGE sql STABLE AS $$
         SELECT CASE WHEN current_setting('portal.scope', true) ~ '^institution:[0-9]+$'
                     THEN substr(current_setting('portal.scope', true), 13)::bigint END $$""",
]

INSURER = "portal_scope_insurer()"
INSTITUTION = "portal_scope_institution()"


def visible(table: str, column: str) -> str:
    """The row named by ``column`` is a row of ``table`` the scope may see (its policy applies)."""
    return f"EXISTS (SELECT 1 FROM {table} AS parent WHERE parent.id = {column})"


def policy(table: str, condition: str) -> list[str]:
    rule = f"portal_scope_all() OR ({condition})"
    return [
        f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY",
        f"DROP POLICY IF EXISTS {POLICY} ON {table}",
        f"CREATE POLICY {POLICY} ON {table} FOR ALL USING ({rule}) WITH CHECK ({rule})",
    ]


def drop(table: str) -> list[str]:
    return [f"DROP POLICY IF EXISTS {POLICY} ON {table}", f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY"]


def install(connection: Any, policies: dict[str, str], *, functions: bool = False) -> None:
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for statement in FUNCTIONS if functions else []:
            cursor.execute(statement)
        for table, condition in policies.items():
            for statement in policy(table, condition):
                cursor.execute(statement)


def uninstall(connection: Any, policies: dict[str, str]) -> None:
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for table in policies:
            for statement in drop(table):
                cursor.execute(statement)


def tables_with_policies(connection: Any) -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT tablename FROM pg_policies WHERE policyname = %s AND schemaname = current_schema()", [POLICY])
        return {row[0] for row in cursor.fetchall()}
