"""Row-level security of deliveries, their items and downloads, and 過誤 returns (PostgreSQL; see core.rls and core.tenancy).

An insurer sees its deliveries and returns; an institution the returns of its records and the
deliveries they came back from.
"""

from __future__ import annotations

from django.db import migrations

INS = "portal_scope_insurer()"
INST = "portal_scope_institution()"

POLICIES = {
    "intake_insurerreturn": f"insurer_id = {INS} OR institution_id = {INST}",
    "intake_delivery": (
        f"insurer_id = {INS} OR EXISTS (SELECT 1 FROM intake_insurerreturn r WHERE r.delivery_id = intake_delivery.id)"
    ),
    "intake_deliveryitem": (
        "EXISTS (SELECT 1 FROM intake_delivery d WHERE d.id = delivery_id) "
        "AND EXISTS (SELECT 1 FROM intake_record r WHERE r.id = record_id)"
    ),
    "intake_deliverydownload": f"EXISTS (SELECT 1 FROM intake_delivery d WHERE d.id = delivery_id AND d.insurer_id = {INS})",
}


def install(apps, schema_editor):
    from core import rls  # the policy SQL lives with core, not in a frozen migration

    rls.install(schema_editor.connection, POLICIES)


def uninstall(apps, schema_editor):
    from core import rls  # see install

    rls.uninstall(schema_editor.connection, POLICIES)


class Migration(migrations.Migration):
    dependencies = [("routing", "0001_initial"), ("intake", "0006_row_level_security")]

    operations = [migrations.RunPython(install, uninstall)]
