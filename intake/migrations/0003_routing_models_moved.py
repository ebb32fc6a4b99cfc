# Delivery, DeliveryDownload, DeliveryItem and InsurerReturn now belong to the routing app
# (routing.0001_initial), keeping their tables: they leave intake's migration state only.

from django.db import migrations

MOVED = ("delivery", "deliverydownload", "deliveryitem", "insurerreturn")


def content_types_to(app_label: str, from_label: str):
    def move(apps, schema_editor):
        ContentType = apps.get_model("contenttypes", "ContentType")
        ContentType.objects.using(schema_editor.connection.alias).filter(app_label=from_label, model__in=MOVED).update(
            app_label=app_label
        )

    return move


class Migration(migrations.Migration):

    dependencies = [
        ('intake', '0002_routing'),
        ('routing', '0001_initial'),
        ('billing', '0003_routing_models'),
        ('contenttypes', '0002_remove_content_type_name'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name='DeliveryDownload'),
                migrations.DeleteModel(name='InsurerReturn'),
                migrations.DeleteModel(name='DeliveryItem'),
                migrations.DeleteModel(name='Delivery'),
            ],
            database_operations=[],
        ),
        # Permissions and admin log entries follow the models to their new app.
        migrations.RunPython(content_types_to("routing", "intake"), content_types_to("intake", "routing")),
    ]
