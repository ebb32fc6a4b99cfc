"""Make the disposal-certificate table append-only in the database itself."""

from __future__ import annotations

from django.db import migrations


def install(apps, schema_editor):
    from compliance import dbguards

    dbguards.install(schema_editor.connection)


def remove(apps, schema_editor):
    from compliance import dbguards

    dbguards.remove(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [("compliance", "0001_initial")]

    operations = [migrations.RunPython(install, remove)]
