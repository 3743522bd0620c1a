"""One permission for personal data everywhere: ``callbacks.view_personal_data`` becomes
``kakaoplugin.view_personal_data``; users and groups that held the old one get the new one."""

from django.db import migrations


def move_grants(apps, schema_editor):
    Permission = apps.get_model("auth", "Permission")
    ContentType = apps.get_model("contenttypes", "ContentType")
    old = Permission.objects.filter(content_type__app_label="callbacks", codename="view_personal_data").first()
    if old is None:
        return
    customer_type, _ = ContentType.objects.get_or_create(app_label="kakaoplugin", model="customer")
    new, _ = Permission.objects.get_or_create(
        content_type=customer_type,
        codename="view_personal_data",
        defaults={"name": "Can see personal data in full (names, phones, addresses, emails, CI)"},
    )
    for user in old.user_set.all():
        user.user_permissions.add(new)
    for group in old.group_set.all():
        group.permissions.add(new)
    old.delete()


class Migration(migrations.Migration):
    dependencies = [
        ("callbacks", "0002_secure_image_sweep"),
        ("kakaoplugin", "0007_staff_permissions"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [
        migrations.AlterModelOptions(name="memberprofile", options={"verbose_name": "member profile"}),
        migrations.RunPython(move_grants, migrations.RunPython.noop),
    ]
