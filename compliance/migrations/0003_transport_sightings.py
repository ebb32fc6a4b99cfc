# How requests reached the portal, per day and kind (compliance.transport): the TLS probe's evidence.

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('compliance', '0002_certificate_guards'),
    ]

    operations = [
        migrations.CreateModel(
            name='TransportSighting',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('day', models.DateField(verbose_name='日付')),
                ('kind', models.CharField(choices=[('secure', 'TLS 1.3・クライアント証明書付きで nginx 経由'), ('public', '公開ページ（TLS 1.3、nginx 経由、証明書不要）'), ('plain_http', '平文 HTTP'), ('direct', 'TLS 終端プロキシを経由しない接続'), ('unconfigured_proxy', 'ポータルの nginx 設定が適用されていないプロキシ経由'), ('old_tls', 'TLS 1.3 以外'), ('no_client_certificate', 'クライアント証明書なし')], max_length=24, verbose_name='経路')),
                ('count', models.PositiveBigIntegerField(default=0, verbose_name='件数')),
                ('last_seen_at', models.DateTimeField(verbose_name='最終確認日時')),
                ('last_detail', models.CharField(blank=True, max_length=300, verbose_name='直近の例')),
            ],
            options={
                'verbose_name': '通信経路の記録',
                'verbose_name_plural': '通信経路の記録',
                'constraints': [models.UniqueConstraint(fields=('day', 'kind'), name='transport_sighting_day_kind')],
            },
        ),
    ]
