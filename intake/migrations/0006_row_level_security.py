"""Row-level security of submissions, records, findings and 受診券 data (PostgreSQL; see core.rls and core.tenancy).

An institution sees its submissions, records and their findings; an insurer the records of its
insured (and the submissions that carry them), the findings on those records, and its 受診券 data.
"""

from __future__ import annotations

from django.db import migrations

INS = "portal_scope_insurer()"
INST = "portal_scope_institution()"

POLICIES = {
    "intake_record": f"institution_id = {INST} OR insurer_id = {INS}",
    "intake_submission": (
        f"institution_id = {INST} OR EXISTS (SELECT 1 FROM intake_record r WHERE r.submission_id = intake_submission.id)"
    ),
    "intake_finding": (
        "CASE WHEN record_id IS NULL THEN EXISTS (SELECT 1 FROM intake_submission s WHERE s.id = submission_id "
        f"AND s.institution_id = {INST}) ELSE EXISTS (SELECT 1 FROM intake_record r WHERE r.id = record_id) END"
    ),
    "intake_eligibilityupload": f"insurer_id = {INS}",
    "intake_eligibilityticket": f"insurer_id = {INS}",
}


def install(apps, schema_editor):
    from core import rls  # the policy SQL lives with core, not in a frozen migration

    rls.install(schema_editor.connection, POLICIES)


def uninstall(apps, schema_editor):
    from core import rls  # see install

    rls.uninstall(schema_editor.connection, POLICIES)


class Migration(migrations.Migration):
    dependencies = [("intake", "0005_unfinished_submissions_leased"), ("agency", "0010_row_level_security")]

    operations = [migrations.RunPython(install, uninstall)]
