# The routing models were created by intake.0002_routing; their tables keep their names (Meta.db_table).
# This migration only moves them into this app's state: no table is created or changed.

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ('agency', '0006_credential_reset_guards'),
        ('intake', '0002_routing'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='Delivery',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('file_name', models.CharField(max_length=64, unique=True, verbose_name='ファイル名')),
                        ('sender_code', models.CharField(max_length=8, verbose_name='送付元（代行機関番号）')),
                        ('created_on', models.DateField(verbose_name='提出年月日')),
                        ('same_day_count', models.PositiveSmallIntegerField(verbose_name='同日分割送信回数')),
                        ('record_count', models.PositiveIntegerField(verbose_name='件数')),
                        ('file_count', models.PositiveIntegerField(verbose_name='ファイル数')),
                        ('unit_total', models.PositiveBigIntegerField(verbose_name='単価総計')),
                        ('payment_total', models.PositiveBigIntegerField(verbose_name='窓口支払金額総計')),
                        ('claim_total', models.PositiveBigIntegerField(verbose_name='請求金額総計')),
                        ('created_at', models.DateTimeField(db_index=True, default=django.utils.timezone.now, verbose_name='作成日時')),
                        ('status', models.CharField(choices=[('ready', '送付可能'), ('downloaded', '取得済'), ('acknowledged', '受領確認済')], default='ready', max_length=16, verbose_name='状態')),
                        ('downloaded_at', models.DateTimeField(blank=True, null=True, verbose_name='初回取得日時')),
                        ('acknowledged_at', models.DateTimeField(blank=True, null=True, verbose_name='受領確認日時')),
                        ('acknowledged_label', models.CharField(blank=True, max_length=150, verbose_name='受領確認者')),
                        ('media_password_hash', models.CharField(blank=True, editable=False, max_length=256, verbose_name='媒体パスワード（ハッシュ）')),
                        ('media_password_locked', models.BooleanField(default=False, verbose_name='パスワード付き')),
                        ('media_prepared_at', models.DateTimeField(blank=True, null=True, verbose_name='媒体作成日時')),
                        ('media_tracking_number', models.CharField(blank=True, max_length=40, verbose_name='送り状番号')),
                        ('media_shipped_at', models.DateTimeField(blank=True, null=True, verbose_name='発送日時')),
                        ('acknowledged_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('archive', models.OneToOneField(on_delete=django.db.models.deletion.PROTECT, related_name='delivery', to='intake.storedarchive')),
                        ('created_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                        ('insurer', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='deliveries', to='agency.insurer', verbose_name='保険者')),
                        ('media_archive', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to='intake.storedarchive')),
                        ('media_prepared_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'verbose_name': '送付データ',
                        'verbose_name_plural': '送付データ',
                        'db_table': 'intake_delivery',
                        'ordering': ['-created_at', '-id'],
                    },
                ),
                migrations.CreateModel(
                    name='DeliveryDownload',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('actor_label', models.CharField(max_length=150, verbose_name='取得者')),
                        ('downloaded_at', models.DateTimeField(default=django.utils.timezone.now, verbose_name='取得日時')),
                        ('ip', models.GenericIPAddressField(blank=True, null=True, verbose_name='接続元IPアドレス')),
                        ('channel', models.CharField(choices=[('web', '画面'), ('api', 'API'), ('media', '媒体')], max_length=8, verbose_name='経路')),
                        ('delivery', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='downloads', to='routing.delivery')),
                        ('user', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'verbose_name': '送付データの取得',
                        'verbose_name_plural': '送付データの取得',
                        'db_table': 'intake_deliverydownload',
                        'ordering': ['downloaded_at', 'id'],
                    },
                ),
                migrations.CreateModel(
                    name='DeliveryItem',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('position', models.PositiveIntegerField(verbose_name='順番')),
                        ('data_name', models.CharField(max_length=255, verbose_name='健診結果ファイル')),
                        ('claim_name', models.CharField(max_length=255, verbose_name='決済ファイル')),
                        ('delivery', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='items', to='routing.delivery')),
                        ('record', models.OneToOneField(on_delete=django.db.models.deletion.PROTECT, related_name='delivery_item', to='intake.record')),
                    ],
                    options={
                        'verbose_name': '送付データの明細',
                        'verbose_name_plural': '送付データの明細',
                        'db_table': 'intake_deliveryitem',
                        'ordering': ['delivery_id', 'position'],
                    },
                ),
                migrations.CreateModel(
                    name='InsurerReturn',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('reason', models.CharField(choices=[('01', '01 被保険者証の記号・番号の誤り'), ('02', '02 受診券・利用券の整理番号の誤り'), ('03', '03 受診者・利用者氏名の誤り'), ('04', '04 該当者なし'), ('05', '05 保険者番号と記号の不一致'), ('06', '06 資格喪失後の受診'), ('07', '07 重複請求'), ('08', '08 健診・指導機関からの取下げ依頼による'), ('09', '09 その他')], max_length=2, verbose_name='過誤返戻理由')),
                        ('note', models.CharField(blank=True, max_length=100, verbose_name='理由の内容')),
                        ('returned_at', models.DateTimeField(db_index=True, default=django.utils.timezone.now, verbose_name='過誤返戻日時')),
                        ('returned_label', models.CharField(max_length=150, verbose_name='過誤返戻者')),
                        ('archive_file_name', models.CharField(blank=True, max_length=64, verbose_name='返送ファイル名')),
                        ('archive', models.OneToOneField(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='insurer_return', to='intake.storedarchive')),
                        ('delivery', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='returns', to='routing.delivery')),
                        ('institution', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='insurer_returns', to='agency.institution')),
                        ('insurer', models.ForeignKey(on_delete=django.db.models.deletion.PROTECT, related_name='returns', to='agency.insurer')),
                        ('record', models.OneToOneField(on_delete=django.db.models.deletion.PROTECT, related_name='insurer_return', to='intake.record')),
                        ('returned_by', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='+', to=settings.AUTH_USER_MODEL)),
                    ],
                    options={
                        'verbose_name': '過誤返戻',
                        'verbose_name_plural': '過誤返戻',
                        'db_table': 'intake_insurerreturn',
                        'ordering': ['-returned_at', '-id'],
                    },
                ),
                migrations.AddIndex(
                    model_name='delivery',
                    index=models.Index(fields=['insurer', 'status', 'created_at'], name='delivery_insurer_status'),
                ),
                migrations.AddConstraint(
                    model_name='delivery',
                    constraint=models.UniqueConstraint(fields=('insurer', 'created_on', 'same_day_count'), name='delivery_name_unique'),
                ),
                migrations.AddConstraint(
                    model_name='delivery',
                    constraint=models.CheckConstraint(condition=models.Q(('same_day_count__lte', 9)), name='delivery_same_day_count_digit'),
                ),
                migrations.AddConstraint(
                    model_name='deliveryitem',
                    constraint=models.UniqueConstraint(fields=('delivery', 'data_name'), name='delivery_item_name_unique'),
                ),
                migrations.AddConstraint(
                    model_name='insurerreturn',
                    constraint=models.CheckConstraint(condition=models.Q(('reason__in', ['01', '02', '03', '04', '05', '06', '07', '08', '09'])), name='insurer_return_reason_known'),
                ),
            ],
            database_operations=[],
        ),
    ]
