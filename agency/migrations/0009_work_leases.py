# Leases on background work (agency.leases): one row per unit of work, its holder and expiry.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('agency', '0008_contract_prices_only'),
    ]

    operations = [
        migrations.CreateModel(
            name='WorkLease',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('key', models.CharField(max_length=200, unique=True, verbose_name='作業キー')),
                ('task', models.CharField(max_length=100, verbose_name='タスク名')),
                ('args', models.JSONField(default=list, verbose_name='引数')),
                ('subject', models.CharField(blank=True, db_index=True, max_length=100, verbose_name='対象')),
                ('state', models.CharField(choices=[('queued', '待機中'), ('running', '処理中'), ('done', '完了'), ('failed', '再開の上限に到達')], default='queued', max_length=16, verbose_name='状態')),
                ('holder', models.CharField(blank=True, max_length=200, verbose_name='保持者')),
                ('attempts', models.PositiveIntegerField(default=0, verbose_name='開始回数')),
                ('resumed', models.PositiveIntegerField(default=0, verbose_name='自動再開の回数')),
                ('queued_at', models.DateTimeField(verbose_name='登録日時')),
                ('started_at', models.DateTimeField(blank=True, null=True, verbose_name='開始日時')),
                ('expires_at', models.DateTimeField(verbose_name='期限')),
                ('finished_at', models.DateTimeField(blank=True, null=True, verbose_name='完了日時')),
                ('last_error', models.CharField(blank=True, max_length=500, verbose_name='直近のエラー')),
            ],
            options={
                'verbose_name': '処理の保持',
                'verbose_name_plural': '処理の保持',
                'indexes': [models.Index(fields=['state', 'expires_at'], name='worklease_state_expiry')],
            },
        ),
    ]
