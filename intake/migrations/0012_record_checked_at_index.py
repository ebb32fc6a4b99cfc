from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("intake", "0011_submissions_sent_by_insurers"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="record",
            index=models.Index(fields=["checked_at"], name="record_checked_at"),
        ),
    ]
