"""Claims statements list, at 0, the records held back because they are not delivered to the insurer yet."""

from django.db import migrations, models


def reinstall_guards(apps, schema_editor):
    # Imported here: the guards' SQL lives with the app; SQLite rebuilds a table to change its
    # constraints and drops its triggers with it, so the append-only guards are installed again.
    from billing import dbguards

    dbguards.install(schema_editor.connection)


class Migration(migrations.Migration):

    dependencies = [
        ('agency', '0008_contract_prices_only'),
        ('billing', '0003_routing_models'),
        ('intake', '0004_once_per_fiscal_year'),
        ('routing', '0001_initial'),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='claimsstatementline',
            name='billing_line_kind_shape',
        ),
        migrations.AlterField(
            model_name='claimsstatementline',
            name='kind',
            field=models.CharField(choices=[('claim', '請求'), ('return', '過誤'), ('adjustment', '調整'), ('held', '保留（保険者へ未送付）')], max_length=12, verbose_name='種類'),
        ),
        migrations.AddConstraint(
            model_name='claimsstatementline',
            constraint=models.CheckConstraint(condition=models.Q(models.Q(('kind', 'claim'), ('record__isnull', False), ('amount__gte', 0), ('insurer_return__isnull', True), ('adjustment__isnull', True)), models.Q(('kind', 'return'), ('record__isnull', False), ('insurer_return__isnull', False), ('amount__lte', 0), ('adjustment__isnull', True)), models.Q(('kind', 'adjustment'), ('adjustment__isnull', False), ('record__isnull', True), ('insurer_return__isnull', True)), models.Q(('kind', 'held'), ('record__isnull', False), ('amount', 0), ('insurer_return__isnull', True), ('adjustment__isnull', True)), _connector='OR'), name='billing_line_kind_shape'),
        ),
        migrations.RunPython(reinstall_guards, migrations.RunPython.noop),
    ]
