"""TOTP keys sealed and backup codes replaced by their keyed hashes (agency.otp_storage).

Rows written before this migration hold the plain hex key and the plain code; each is rewritten in
place. Running it twice changes nothing (a sealed key and a hash are recognised). The reverse cannot
give back a backup code (only its hash is kept): it opens the TOTP keys and leaves the codes hashed.
"""

from __future__ import annotations

from django.db import migrations


def seal(apps, schema_editor):
    from agency import otp_storage  # the sealing lives with the app, not in a frozen migration

    TOTPDevice = apps.get_model("otp_totp", "TOTPDevice")
    StaticToken = apps.get_model("otp_static", "StaticToken")
    for pk, key in TOTPDevice.objects.values_list("pk", "key"):
        sealed = otp_storage.seal_totp_key(key)
        if sealed != key:
            TOTPDevice.objects.filter(pk=pk).update(key=sealed)
    for pk, token in StaticToken.objects.values_list("pk", "token"):
        tag = otp_storage.backup_code_tag(token)
        if tag != token:
            StaticToken.objects.filter(pk=pk).update(token=tag)


def unseal(apps, schema_editor):
    from agency import otp_storage  # see seal

    TOTPDevice = apps.get_model("otp_totp", "TOTPDevice")
    for pk, key in TOTPDevice.objects.values_list("pk", "key"):
        if otp_storage.is_sealed(key):
            TOTPDevice.objects.filter(pk=pk).update(key=otp_storage.open_totp_key(key).hex())


class Migration(migrations.Migration):
    dependencies = [
        ("agency", "0010_row_level_security"),
        ("otp_totp", "0003_add_timestamps"),
        ("otp_static", "0003_add_timestamps"),
    ]

    operations = [migrations.RunPython(seal, unseal)]
