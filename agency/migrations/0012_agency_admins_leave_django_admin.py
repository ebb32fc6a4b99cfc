"""The Django admin becomes a superusers-only tool: agency administrators stop being staff and superusers.

Until now every account created with the agency administrator's role was made staff and superuser
implicitly; superusers made deliberately with ``createsuperuser`` had no role. Those keep the admin; the
implicit grants are withdrawn (the administrators do the same work in the portal's 設定 pages).
"""

from django.db import migrations


def withdraw_implicit_grants(apps, schema_editor):
    User = apps.get_model("agency", "User")
    User.objects.filter(role__in=["agency_admin", "agency_clerk"]).update(is_staff=False, is_superuser=False)


class Migration(migrations.Migration):

    dependencies = [
        ("agency", "0011_otp_secrets_at_rest"),
    ]

    operations = [
        migrations.RunPython(withdraw_implicit_grants, migrations.RunPython.noop),
    ]
