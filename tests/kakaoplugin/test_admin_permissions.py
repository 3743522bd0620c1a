"""Admin actions that change things need the change permission: a view-only staff member can
neither see nor run them (rotating a plugin key breaks every plugin URL of a merchant)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission, User

from kakaoplugin.models import KakaoApp


def staff(*perms: str) -> User:
    user = User.objects.create_user("viewer", password="pw-0123456789", is_staff=True)
    for perm in perms:
        app_label, codename = perm.split(".")
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    return user


ACTIONS = [
    ("kakaoplugin", "kakaoapp", "rotate_plugin_key"),
    ("kakaoplugin", "customer", "block"),
    ("kakaoplugin", "customer", "unblock"),
    ("merchant", "merchantapikey", "revoke"),
    ("kakaoplugin", "webhookdelivery", "resend"),
    ("kakaoplugin", "webhookendpoint", "rotate_secret"),
    ("callbacks", "callbackevent", "fetch_again"),
    ("callbacks", "secureimageset", "download_again"),
]


def actions_for(user: User, app_label: str, model_name: str) -> set[str]:
    from django.apps import apps
    from django.contrib import admin
    from django.test import RequestFactory

    request = RequestFactory().get("/admin/")
    request.user = user
    model_admin = admin.site._registry[apps.get_model(app_label, model_name)]
    return set(model_admin.get_actions(request))


@pytest.mark.django_db
@pytest.mark.parametrize("app_label, model_name, action", ACTIONS)
def test_changing_actions_need_the_change_permission(app_label, model_name, action):
    viewer = staff(f"{app_label}.view_{model_name}")
    assert action not in actions_for(viewer, app_label, model_name)
    editor = User.objects.create_user("editor", is_staff=True)
    for codename in (f"view_{model_name}", f"change_{model_name}"):
        editor.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    editor = User.objects.get(pk=editor.pk)  # fresh permission cache
    assert action in actions_for(editor, app_label, model_name)


@pytest.mark.django_db
def test_view_only_staff_cannot_rotate_by_posting(client, kakao_app):
    client.force_login(staff("kakaoplugin.view_kakaoapp"))
    before = kakao_app.plugin_key
    client.post("/admin/kakaoplugin/kakaoapp/", {"action": "rotate_plugin_key", "_selected_action": [kakao_app.pk]})
    assert KakaoApp.objects.get(pk=kakao_app.pk).plugin_key == before


@pytest.mark.django_db
def test_staff_with_change_permission_can_rotate(client, kakao_app):
    client.force_login(staff("kakaoplugin.view_kakaoapp", "kakaoplugin.change_kakaoapp"))
    assert 'value="rotate_plugin_key"' in client.get("/admin/kakaoplugin/kakaoapp/").content.decode()
    client.post("/admin/kakaoplugin/kakaoapp/", {"action": "rotate_plugin_key", "_selected_action": [kakao_app.pk]})
    assert KakaoApp.objects.get(pk=kakao_app.pk).plugin_key != kakao_app.plugin_key
