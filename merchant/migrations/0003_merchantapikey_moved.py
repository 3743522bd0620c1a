# The merchant API key model moves from the kakaoplugin app to merchant (issue 14): Django's state
# only. The table keeps its name (kakaoplugin_merchantapikey, Meta.db_table) and every row; the
# idempotency keys' foreign key already points at it. The content type is relabelled, so the
# permissions (add/change/delete/view_merchantapikey), the groups and users holding them and the
# admin's history follow the model. kakaoplugin 0008 then drops the model from kakaoplugin's state.

import django.db.models.deletion
from django.db import migrations, models


def relabel_content_type(old_label, new_label):
    def relabel(apps, schema_editor):
        ContentType = apps.get_model("contenttypes", "ContentType")
        types = ContentType.objects.using(schema_editor.connection.alias)
        old = types.filter(app_label=old_label, model="merchantapikey").first()
        if old is None:  # a fresh database: post_migrate makes the new one
            return
        # one made by a post_migrate that ran in between has nothing assigned yet: the old one,
        # with its permissions' grants and history, wins
        types.filter(app_label=new_label, model="merchantapikey").delete()
        old.app_label = new_label
        old.save(update_fields=["app_label"])

    return relabel


class Migration(migrations.Migration):

    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("kakaoplugin", "0007_staff_permissions"),
        ("merchant", "0002_idempotency_keys"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="MerchantApiKey",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("name", models.CharField(help_text="Who uses it, e.g. 'fulfilment system'", max_length=100)),
                        ("prefix", models.CharField(editable=False, max_length=16, unique=True)),
                        ("key_hash", models.CharField(editable=False, max_length=64)),
                        ("scopes", models.JSONField(blank=True, default=list)),
                        ("created_by", models.CharField(blank=True, editable=False, max_length=150)),
                        ("created_at", models.DateTimeField(auto_now_add=True)),
                        ("last_used_at", models.DateTimeField(blank=True, editable=False, null=True)),
                        ("revoked_at", models.DateTimeField(blank=True, editable=False, null=True)),
                        ("kakao_app", models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="api_keys", to="kakaoplugin.kakaoapp")),
                    ],
                    options={
                        "verbose_name": "merchant API key",
                        "db_table": "kakaoplugin_merchantapikey",
                    },
                ),
                migrations.AlterField(
                    model_name="idempotencykey",
                    name="api_key",
                    field=models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name="idempotency_keys", to="merchant.merchantapikey"),
                ),
            ],
            database_operations=[],
        ),
        migrations.RunPython(
            relabel_content_type("kakaoplugin", "merchant"), relabel_content_type("merchant", "kakaoplugin")
        ),
    ]
