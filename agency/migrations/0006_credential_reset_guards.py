"""Make the credential reset ledger append-only in the database itself."""

from __future__ import annotations

from django.db import migrations


def install(apps, schema_editor):
    from agency import dbguards

    dbguards.install(schema_editor.connection)


def remove(apps, schema_editor):
    from agency import dbguards

    dbguards.remove(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [("agency", "0005_credential_reset_ledger")]

    operations = [migrations.RunPython(install, remove)]
