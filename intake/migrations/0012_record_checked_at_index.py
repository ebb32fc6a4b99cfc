from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("intake", "0007_record_kinds_and_guidance"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="record",
            index=models.Index(fields=["checked_at"], name="record_checked_at"),
        ),
    ]
