# Indexes for the record lists' top-50 sorts (the insurer's record search; lists newest received first).

from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('agency', '0014_collective_contracts'),
        ('intake', '0012_record_checked_at_index'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddIndex(
            model_name='record',
            index=models.Index(fields=['checkup_date', 'id'], name='record_checkup_date_id'),
        ),
        migrations.AddIndex(
            model_name='submission',
            index=models.Index(fields=['received_at', 'id'], name='submission_received_id'),
        ),
    ]
