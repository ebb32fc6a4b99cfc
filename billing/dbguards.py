"""Database-level guards of the billing tables, on PostgreSQL and on SQLite.

* Append-only tables (the ledger, statements, payments, transfers, charged fee items): every UPDATE
  and DELETE is rejected; on PostgreSQL a TRUNCATE is rejected while the table holds rows.
* Frozen rows: an issued invoice and a closed billing month reject UPDATE and DELETE; the lines and
  tax totals of an issued invoice reject INSERT, UPDATE and DELETE.

Modelled on ``audit.dbguards``: the migration installs them, ``install`` is idempotent, ``remove``
exists for a database owner's deliberate maintenance (and the test suite's flush).
"""

from __future__ import annotations

from django.db.backends.base.base import BaseDatabaseWrapper

APPEND_ONLY_TABLES = (
    "billing_ledgerentry",
    "billing_claimadjustment",
    "billing_claimsstatement",
    "billing_claimsstatementline",
    "billing_paymentstatement",
    "billing_paymentstatementline",
    "billing_insurerpayment",
    "billing_transferbatch",
    "billing_transferline",
    "billing_transferitem",
    "billing_feechargeditem",
)
# table → the status value from which a row is frozen
FROZEN_TABLES = {"billing_invoice": "issued", "billing_billingmonth": "closed"}
INVOICE_CHILD_TABLES = ("billing_invoiceline", "billing_invoicetaxtotal")

_PG_FUNCTIONS = [
    """
    CREATE OR REPLACE FUNCTION billing_reject_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      RAISE EXCEPTION '% is append-only (% rejected)', TG_TABLE_NAME, TG_OP USING ERRCODE = 'insufficient_privilege';
    END $$;
    """,
    """
    CREATE OR REPLACE FUNCTION billing_reject_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
      has_rows boolean;
    BEGIN
      EXECUTE format('SELECT EXISTS (SELECT 1 FROM %I.%I)', TG_TABLE_SCHEMA, TG_TABLE_NAME) INTO has_rows;
      IF has_rows THEN
        RAISE EXCEPTION '% is append-only (TRUNCATE rejected)', TG_TABLE_NAME USING ERRCODE = 'insufficient_privilege';
      END IF;
      RETURN NULL;
    END $$;
    """,
    """
    CREATE OR REPLACE FUNCTION billing_reject_when_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF OLD.status = TG_ARGV[0] THEN
        RAISE EXCEPTION '% row % is %, it cannot be changed (% rejected)', TG_TABLE_NAME, OLD.id, TG_ARGV[0], TG_OP
          USING ERRCODE = 'insufficient_privilege';
      END IF;
      IF TG_OP = 'DELETE' THEN
        RETURN OLD;
      END IF;
      RETURN NEW;
    END $$;
    """,
    """
    CREATE OR REPLACE FUNCTION billing_reject_issued_child() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP <> 'INSERT' THEN
        IF EXISTS (SELECT 1 FROM billing_invoice WHERE id = OLD.invoice_id AND status = 'issued') THEN
          RAISE EXCEPTION '% belongs to an issued invoice (% rejected)', TG_TABLE_NAME, TG_OP USING ERRCODE = 'insufficient_privilege';
        END IF;
      END IF;
      IF TG_OP <> 'DELETE' THEN
        IF EXISTS (SELECT 1 FROM billing_invoice WHERE id = NEW.invoice_id AND status = 'issued') THEN
          RAISE EXCEPTION '% belongs to an issued invoice (% rejected)', TG_TABLE_NAME, TG_OP USING ERRCODE = 'insufficient_privilege';
        END IF;
        RETURN NEW;
      END IF;
      RETURN OLD;
    END $$;
    """,
]


def _pg_install() -> list[str]:
    statements = list(_PG_FUNCTIONS)
    for table in APPEND_ONLY_TABLES:
        statements += [
            f"DROP TRIGGER IF EXISTS {table}_no_update_delete ON {table}",
            f"""CREATE TRIGGER {table}_no_update_delete BEFORE UPDATE OR DELETE ON {table}
                FOR EACH ROW EXECUTE FUNCTION billing_reject_change()""",
            f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}",
            f"""CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}
                FOR EACH STATEMENT EXECUTE FUNCTION billing_reject_truncate()""",
        ]
    for table, status in FROZEN_TABLES.items():
        statements += [
            f"DROP TRIGGER IF EXISTS {table}_frozen ON {table}",
            f"""CREATE TRIGGER {table}_frozen BEFORE UPDATE OR DELETE ON {table}
                FOR EACH ROW EXECUTE FUNCTION billing_reject_when_frozen('{status}')""",
            f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}",
            f"""CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}
                FOR EACH STATEMENT EXECUTE FUNCTION billing_reject_truncate()""",
        ]
    for table in INVOICE_CHILD_TABLES:
        statements += [
            f"DROP TRIGGER IF EXISTS {table}_issued ON {table}",
            f"""CREATE TRIGGER {table}_issued BEFORE INSERT OR UPDATE OR DELETE ON {table}
                FOR EACH ROW EXECUTE FUNCTION billing_reject_issued_child()""",
        ]
    return statements


def _pg_remove() -> list[str]:
    statements = []
    for table in APPEND_ONLY_TABLES:
        statements += [f"DROP TRIGGER IF EXISTS {table}_no_update_delete ON {table}", f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}"]
    for table in FROZEN_TABLES:
        statements += [f"DROP TRIGGER IF EXISTS {table}_frozen ON {table}", f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}"]
    statements += [f"DROP TRIGGER IF EXISTS {table}_issued ON {table}" for table in INVOICE_CHILD_TABLES]
    return statements


def _sqlite_install() -> list[str]:
    statements = []
    for table in APPEND_ONLY_TABLES:
        statements += [
            f"""CREATE TRIGGER IF NOT EXISTS {table}_no_update BEFORE UPDATE ON {table}
                BEGIN SELECT RAISE(ABORT, '{table} is append-only (UPDATE rejected)'); END""",
            f"""CREATE TRIGGER IF NOT EXISTS {table}_no_delete BEFORE DELETE ON {table}
                BEGIN SELECT RAISE(ABORT, '{table} is append-only (DELETE rejected)'); END""",
        ]
    for table, status in FROZEN_TABLES.items():
        statements += [
            f"""CREATE TRIGGER IF NOT EXISTS {table}_frozen_update BEFORE UPDATE ON {table} WHEN OLD.status = '{status}'
                BEGIN SELECT RAISE(ABORT, '{table}: a row that is {status} cannot be changed (UPDATE rejected)'); END""",
            f"""CREATE TRIGGER IF NOT EXISTS {table}_frozen_delete BEFORE DELETE ON {table} WHEN OLD.status = '{status}'
                BEGIN SELECT RAISE(ABORT, '{table}: a row that is {status} cannot be deleted (DELETE rejected)'); END""",
        ]
    issued = "EXISTS (SELECT 1 FROM billing_invoice WHERE id = {row}.invoice_id AND status = 'issued')"
    for table in INVOICE_CHILD_TABLES:
        statements += [
            f"""CREATE TRIGGER IF NOT EXISTS {table}_issued_insert BEFORE INSERT ON {table} WHEN {issued.format(row="NEW")}
                BEGIN SELECT RAISE(ABORT, '{table} belongs to an issued invoice (INSERT rejected)'); END""",
            f"""CREATE TRIGGER IF NOT EXISTS {table}_issued_update BEFORE UPDATE ON {table}
                WHEN {issued.format(row="OLD")} OR {issued.format(row="NEW")}
                BEGIN SELECT RAISE(ABORT, '{table} belongs to an issued invoice (UPDATE rejected)'); END""",
            f"""CREATE TRIGGER IF NOT EXISTS {table}_issued_delete BEFORE DELETE ON {table} WHEN {issued.format(row="OLD")}
                BEGIN SELECT RAISE(ABORT, '{table} belongs to an issued invoice (DELETE rejected)'); END""",
        ]
    return statements


def _sqlite_remove() -> list[str]:
    statements = []
    for table in APPEND_ONLY_TABLES:
        statements += [f"DROP TRIGGER IF EXISTS {table}_no_update", f"DROP TRIGGER IF EXISTS {table}_no_delete"]
    for table in FROZEN_TABLES:
        statements += [f"DROP TRIGGER IF EXISTS {table}_frozen_update", f"DROP TRIGGER IF EXISTS {table}_frozen_delete"]
    for table in INVOICE_CHILD_TABLES:
        statements += [f"DROP TRIGGER IF EXISTS {table}_issued_{op}" for op in ("insert", "update", "delete")]
    return statements


def _statements(connection: BaseDatabaseWrapper, *, install: bool) -> list[str]:
    if connection.vendor == "postgresql":
        return _pg_install() if install else _pg_remove()
    if connection.vendor == "sqlite":
        return _sqlite_install() if install else _sqlite_remove()
    raise NotImplementedError(f"no billing guard for database vendor {connection.vendor!r}")


def install(connection: BaseDatabaseWrapper) -> None:
    with connection.cursor() as cursor:
        for statement in _statements(connection, install=True):
            cursor.execute(statement)


def remove(connection: BaseDatabaseWrapper) -> None:
    """Drop the guards. Only for a database owner's deliberate maintenance (and the test suite)."""
    with connection.cursor() as cursor:
        for statement in _statements(connection, install=False):
            cursor.execute(statement)


def _expected_count(connection: BaseDatabaseWrapper) -> int:
    if connection.vendor == "postgresql":
        return 2 * len(APPEND_ONLY_TABLES) + 2 * len(FROZEN_TABLES) + len(INVOICE_CHILD_TABLES)
    return 2 * len(APPEND_ONLY_TABLES) + 2 * len(FROZEN_TABLES) + 3 * len(INVOICE_CHILD_TABLES)


def installed(connection: BaseDatabaseWrapper) -> bool:
    tables = [*APPEND_ONLY_TABLES, *FROZEN_TABLES, *INVOICE_CHILD_TABLES]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT count(*) FROM pg_trigger WHERE tgrelid::regclass::text = ANY(%s) AND NOT tgisinternal AND tgenabled <> 'D'",
                [tables],
            )
        else:
            placeholders = ", ".join(["%s"] * len(tables))
            cursor.execute(f"SELECT count(*) FROM sqlite_master WHERE type = 'trigger' AND tbl_name IN ({placeholders})", tables)
        return cursor.fetchone()[0] >= _expected_count(connection)
