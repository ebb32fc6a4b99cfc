"""The application's database role on PostgreSQL: it uses the tables but does not own them.

Migrations run as the owner role; the web, worker and beat processes connect as the application role
granted here. Not owning the tables, it cannot drop or disable the append-only triggers, disable
row-level security or change a policy; it holds neither UPDATE, DELETE nor TRUNCATE on the
append-only tables, and is refused if it is a superuser or may bypass row-level security.
Run after every ``migrate`` (new tables need their grants): ``manage.py db_grant_app_role ROLE``.
"""

from __future__ import annotations

from typing import Any

from agency import dbguards as agency_dbguards
from audit import dbguards as audit_dbguards
from billing import dbguards as billing_dbguards

from . import dbguards as compliance_dbguards


class RoleError(Exception):
    """The role cannot serve as the application's role (it would bypass the guards)."""


def append_only_tables() -> list[str]:
    return [
        audit_dbguards.TABLE, agency_dbguards.TABLE, compliance_dbguards.TABLE, *billing_dbguards.APPEND_ONLY_TABLES,
    ]


def _quote(connection: Any, name: str) -> str:
    return str(connection.ops.quote_name(name))


def grant_statements(connection: Any, role: str) -> list[str]:
    who = _quote(connection, role)
    statements = [
        f"GRANT USAGE ON SCHEMA public TO {who}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {who}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {who}",
        f"REVOKE TRUNCATE, REFERENCES, TRIGGER ON ALL TABLES IN SCHEMA public FROM {who}",
        f"REVOKE INSERT, UPDATE, DELETE ON django_migrations FROM {who}",
    ]
    existing = set(connection.introspection.table_names())
    for table in append_only_tables():
        if table in existing:
            statements.append(f"REVOKE UPDATE, DELETE ON {_quote(connection, table)} FROM {who}")
    return statements


def role_facts(connection: Any, role: str) -> dict[str, Any]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = %s", [role])
        row = cursor.fetchone()
        cursor.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public' AND tableowner = %s", [role])
        owned = cursor.fetchone()[0]
    return {"exists": row is not None, "superuser": bool(row and row[0]), "bypassrls": bool(row and row[1]), "owns_tables": owned}


def app_role_grant(connection: Any, role: str, *, create_with_password: str | None = None) -> list[str]:
    """Grant ``role`` what the application needs (creating it first if asked); return the statements run."""
    if connection.vendor != "postgresql":
        raise RoleError("database roles exist on PostgreSQL only")
    facts = role_facts(connection, role)
    run: list[str] = []
    with connection.cursor() as cursor:
        if not facts["exists"]:
            if create_with_password is None:
                raise RoleError(f"role {role} does not exist")
            cursor.execute(
                f"CREATE ROLE {_quote(connection, role)} LOGIN PASSWORD %s NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE",
                [create_with_password],
            )
            run.append(f"CREATE ROLE {role} LOGIN …")
            facts = role_facts(connection, role)
        if facts["superuser"] or facts["bypassrls"] or facts["owns_tables"]:
            raise RoleError(f"role {role} is a superuser, may bypass row-level security or owns tables: it cannot be the application's role")
        for statement in grant_statements(connection, role):
            cursor.execute(statement)
            run.append(statement)
    return run
