"""Install the billing tables' database guards and the invoice number counter row."""

from __future__ import annotations

from django.db import migrations


def install(apps, schema_editor):
    from billing import dbguards

    dbguards.install(schema_editor.connection)


def remove(apps, schema_editor):
    from billing import dbguards

    dbguards.remove(schema_editor.connection)


def create_counter(apps, schema_editor):
    counter = apps.get_model("billing", "InvoiceNumberCounter")
    counter.objects.get_or_create(series="invoice", defaults={"last": 0})


class Migration(migrations.Migration):
    dependencies = [("billing", "0001_initial")]

    operations = [
        migrations.RunPython(create_counter, migrations.RunPython.noop),
        migrations.RunPython(install, remove),
    ]
