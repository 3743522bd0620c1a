# The merchant API key model now lives in the merchant app (merchant 0003 took it over, table and
# rows unchanged): it leaves kakaoplugin's state; nothing in the database changes.

from django.db import migrations


class Migration(migrations.Migration):

    dependencies = [
        ("kakaoplugin", "0007_staff_permissions"),
        ("merchant", "0003_merchantapikey_moved"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="MerchantApiKey")],
            database_operations=[],
        ),
    ]
