"""Indexes for the auditor's filters at millions of events (PostgreSQL only).

The auditor's search (``compliance.views.audit.EventFilterForm``) filters by a part of the user name,
of the tenant and of the object ids (``icontains``: ``UPPER(column) LIKE UPPER('%…%')``), by an action
prefix (``LIKE 'routing.%'``) and by object type, newest first. Trigram indexes (``pg_trgm``, a trusted
extension: the tables' owner may create it) answer the substring filters, a pattern index the prefix;
each is created IF NOT EXISTS and dropped on the way back. SQLite keeps the
model's own indexes (a test database, not millions of rows).
"""

from __future__ import annotations

from django.db import migrations

INDEXES = {
    "audit_actor_label_trgm": "USING gin (upper(actor_label) gin_trgm_ops)",
    "audit_tenant_trgm": "USING gin (upper(tenant) gin_trgm_ops)",
    "audit_object_ids_trgm": "USING gin (upper(object_ids::text) gin_trgm_ops)",
    "audit_action_pattern": "(action varchar_pattern_ops)",
    "audit_object_type_seq": "(object_type, seq)",
}


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    for name, definition in INDEXES.items():
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {name} ON audit_auditevent {definition}")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name in INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [("audit", "0003_auditevent_row_mac")]

    operations = [migrations.RunPython(create, drop)]
