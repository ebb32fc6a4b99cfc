# The routing models moved from intake to the routing app with their tables unchanged: these foreign
# keys now name them there. Only the migration state changes; the database is untouched.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('billing', '0002_guards_and_counter'),
        ('routing', '0001_initial'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name='claimsstatementline',
                    name='insurer_return',
                    field=models.OneToOneField(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='billing_line', to='routing.insurerreturn'),
                ),
                migrations.AlterField(
                    model_name='feechargeditem',
                    name='delivery_item',
                    field=models.OneToOneField(on_delete=django.db.models.deletion.PROTECT, related_name='fee_charge', to='routing.deliveryitem'),
                ),
            ],
            database_operations=[],
        ),
    ]
