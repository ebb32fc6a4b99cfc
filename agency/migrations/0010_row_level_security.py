"""Row-level security of contracts (PostgreSQL; see core.rls and core.tenancy).

Also creates the functions that read the transaction's tenant scope (portal_scope_all,
portal_scope_insurer, portal_scope_institution), used by the policies of every app.
"""

from __future__ import annotations

from django.db import migrations

INS = "portal_scope_insurer()"
INST = "portal_scope_institution()"

POLICIES = {
    "agency_contract": f"insurer_id = {INS} OR institution_id = {INST}",
    "agency_contractotheritem": "EXISTS (SELECT 1 FROM agency_contract c WHERE c.id = contract_id)",
}


def install(apps, schema_editor):
    from core import rls  # the policy SQL lives with core, not in a frozen migration

    rls.install(schema_editor.connection, POLICIES, functions=True)


def uninstall(apps, schema_editor):
    from core import rls  # see install

    rls.uninstall(schema_editor.connection, POLICIES)


class Migration(migrations.Migration):
    dependencies = [("agency", "0009_work_leases")]

    operations = [migrations.RunPython(install, uninstall)]
