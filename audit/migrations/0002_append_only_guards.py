"""Make the audit table append-only in the database itself (UPDATE, DELETE and TRUNCATE rejected)."""

from __future__ import annotations

from django.db import migrations


def install(apps, schema_editor):
    from audit import dbguards

    dbguards.install(schema_editor.connection)


def remove(apps, schema_editor):
    from audit import dbguards

    dbguards.remove(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [("audit", "0001_initial")]

    operations = [migrations.RunPython(install, remove)]
