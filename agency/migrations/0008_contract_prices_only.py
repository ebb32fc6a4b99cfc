"""A contract states prices only: the person's 窓口負担 is the 受診券's (the insurer's ticket data, or the
claim's checkupCard), so the contract's copay columns go. A contract gains its 人間ドック price (a dock
claim is checked against it) and whether it issues 受診券 (個別契約 without tickets)."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('agency', '0007_insurer_delivery_waits_for_confirmation'),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='contract',
            name='contract_copay_rate_at_most_100_percent',
        ),
        migrations.RemoveField(
            model_name='contract',
            name='basic_copay_amount',
        ),
        migrations.RemoveField(
            model_name='contract',
            name='basic_copay_cap',
        ),
        migrations.RemoveField(
            model_name='contract',
            name='basic_copay_code',
        ),
        migrations.RemoveField(
            model_name='contract',
            name='basic_copay_rate',
        ),
        migrations.RemoveField(
            model_name='contract',
            name='detail_copay_amount',
        ),
        migrations.RemoveField(
            model_name='contract',
            name='detail_copay_cap',
        ),
        migrations.RemoveField(
            model_name='contract',
            name='detail_copay_code',
        ),
        migrations.RemoveField(
            model_name='contract',
            name='detail_copay_rate',
        ),
        migrations.RemoveField(
            model_name='contract',
            name='other_copay_amount',
        ),
        migrations.RemoveField(
            model_name='contract',
            name='other_copay_cap',
        ),
        migrations.RemoveField(
            model_name='contract',
            name='other_copay_code',
        ),
        migrations.RemoveField(
            model_name='contract',
            name='other_copay_rate',
        ),
        migrations.AddField(
            model_name='contract',
            name='dock_price',
            field=models.PositiveIntegerField(blank=True, help_text='人間ドック（請求区分5）を契約する場合の単価。空欄は人間ドックの契約なし。', null=True, verbose_name='人間ドック 単価'),
        ),
        migrations.AddField(
            model_name='contract',
            name='issues_tickets',
            field=models.BooleanField(default=True, help_text='受診券を発行しない個別契約では、受診券整理番号のない健診データも返戻しません。', verbose_name='受診券を発行する'),
        ),
    ]
