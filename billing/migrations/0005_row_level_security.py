"""Row-level security of statements, payment statements, invoices, payments, adjustments, the ledger and transfers (PostgreSQL; see core.rls and core.tenancy).

An insurer sees its 費用請求書, invoices, payments and their lines; an institution its 支払通知,
its lines of the statements, its adjustments and transfers.
"""

from __future__ import annotations

from django.db import migrations

INS = "portal_scope_insurer()"
INST = "portal_scope_institution()"

POLICIES = {
    "billing_paymentstatementline": f"institution_id = {INST} OR insurer_id = {INS}",
    "billing_claimsstatement": (
        f"insurer_id = {INS} OR EXISTS (SELECT 1 FROM billing_paymentstatementline p "
        "WHERE p.claims_statement_id = billing_claimsstatement.id)"
    ),
    "billing_claimsstatementline": (
        f"institution_id = {INST} OR EXISTS (SELECT 1 FROM billing_claimsstatement s WHERE s.id = statement_id AND s.insurer_id = {INS})"
    ),
    "billing_paymentstatement": f"institution_id = {INST}",
    "billing_invoice": f"insurer_id = {INS}",
    "billing_invoiceline": "EXISTS (SELECT 1 FROM billing_invoice i WHERE i.id = invoice_id)",
    "billing_invoicetaxtotal": "EXISTS (SELECT 1 FROM billing_invoice i WHERE i.id = invoice_id)",
    "billing_feechargeditem": "EXISTS (SELECT 1 FROM billing_invoiceline l WHERE l.id = invoice_line_id)",
    "billing_insurerpayment": f"insurer_id = {INS}",
    "billing_claimadjustment": f"insurer_id = {INS} OR institution_id = {INST}",
    "billing_ledgerentry": f"insurer_id = {INS} OR institution_id = {INST}",
    "billing_transferline": f"institution_id = {INST}",
    "billing_transferitem": "EXISTS (SELECT 1 FROM billing_transferline l WHERE l.id = line_id)",
}


def install(apps, schema_editor):
    from core import rls  # the policy SQL lives with core, not in a frozen migration

    rls.install(schema_editor.connection, POLICIES)


def uninstall(apps, schema_editor):
    from core import rls  # see install

    rls.uninstall(schema_editor.connection, POLICIES)


class Migration(migrations.Migration):
    dependencies = [("billing", "0004_held_lines"), ("routing", "0002_row_level_security")]

    operations = [migrations.RunPython(install, uninstall)]
