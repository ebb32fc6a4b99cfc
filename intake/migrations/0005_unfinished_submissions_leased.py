# Submissions received before work had leases and still unfinished (a worker died during their
# check) get an expired lease of level 0, so that the sweeper's first round resumes them.

from django.db import migrations
from django.utils import timezone

UNFINISHED = ("received", "checking")


def lease_unfinished(apps, schema_editor):
    Submission = apps.get_model("intake", "Submission")
    WorkLease = apps.get_model("agency", "WorkLease")
    alias = schema_editor.connection.alias
    now = timezone.now()
    for pk in Submission.objects.using(alias).filter(status__in=UNFINISHED).values_list("pk", flat=True):
        WorkLease.objects.using(alias).get_or_create(
            key=f"intake.check_archive:[{pk}]",
            defaults={
                "task": "intake.check_archive", "args": [pk], "subject": f"submission:{pk}", "state": "queued",
                "queued_at": now, "expires_at": now,
            },
        )


class Migration(migrations.Migration):
    dependencies = [
        ("intake", "0004_once_per_fiscal_year"),
        ("agency", "0009_work_leases"),
    ]

    operations = [migrations.RunPython(lease_unfinished, migrations.RunPython.noop)]
