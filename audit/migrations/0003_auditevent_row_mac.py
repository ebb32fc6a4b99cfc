"""Rows carry an HMAC seal under a key kept outside the database (AUDIT_HMAC_KEY).

Rows written before this migration keep an empty seal; the first checkpoint records from which row
on every row must be sealed. SQLite rebuilds the table to add a column, which drops its triggers:
the append-only guards are installed again afterwards.
"""

from __future__ import annotations

from django.db import migrations, models


def install_guards(apps, schema_editor):
    from audit import dbguards  # the guards' SQL lives with the app, not in a frozen migration

    dbguards.install(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [("audit", "0002_append_only_guards")]

    operations = [
        migrations.AddField(
            model_name="auditevent",
            name="row_mac",
            field=models.CharField(blank=True, default="", max_length=64),
        ),
        migrations.RunPython(install_guards, migrations.RunPython.noop),
    ]
