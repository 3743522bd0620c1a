"""Staff in a real browser: logging in, Kakao apps (secrets masked, plugin key rotation) and
merchant API keys (the plain key shown exactly once)."""

from __future__ import annotations

import re

from django.db import connection

from kakaoplugin.fields import mask
from merchant.models import MerchantApiKey
from merchant.services import api_key_authenticate

from .conftest import admin_login, make_staff

APP_PERMS = ("kakaoplugin.view_kakaoapp", "kakaoplugin.change_kakaoapp")
CHANGELIST = "/admin/kakaoplugin/kakaoapp/"


def test_staff_logs_in_and_opens_kakao_apps(page, shot, kakao_app):
    staff = make_staff("app-staff", *APP_PERMS)

    page.goto("/admin/")
    page.wait_for_url("**/admin/login/?next=/admin/")  # not logged in: the login form
    page.fill("#id_username", "app-staff")
    page.fill("#id_password", "not-the-password")
    page.click("#login-form [type=submit]")
    page.wait_for_selector(".errornote")
    shot("wrong-password")
    assert "/admin/login/" in page.url

    admin_login(page, staff)
    shot("index")
    assert page.text_content("#user-tools strong") == "app-staff"
    # the index lists only what this user may see
    assert page.locator("#content-main tr.model-kakaoapp").count() == 1
    assert page.locator("#content-main tr.model-callbackevent, #content-main tr.model-merchantapikey").count() == 0

    page.click("#content-main tr.model-kakaoapp th a")
    page.wait_for_url(f"**{CHANGELIST}")
    page.wait_for_selector("#result_list")
    shot("kakao-apps")
    row = page.locator("#result_list tbody tr", has_text="test-app")
    assert row.count() == 1
    assert mask(kakao_app.plugin_key) in row.inner_text()  # the key masked in the list
    assert kakao_app.plugin_key not in page.content()


def test_kakaopay_secret_is_only_ever_shown_masked(page, shot, kakao_app):
    old_secret = str(kakao_app.kakaopay_secret_key)
    new_secret = "browser-kakaopay-secret-7f3e9a1c"
    admin_login(page, make_staff("app-editor", *APP_PERMS))

    page.goto(CHANGELIST)
    page.click("#result_list a:text-is('test-app')")
    page.wait_for_url(f"**{CHANGELIST}{kakao_app.pk}/change/")
    shot("before")
    html = page.content()
    assert old_secret not in html and str(kakao_app.kakaopay_admin_key) not in html
    assert page.input_value("#id_kakaopay_secret_key") == ""
    assert f"Currently set ({mask(old_secret)})" in page.inner_text(".field-kakaopay_secret_key")

    page.fill("#id_kakaopay_secret_key", new_secret)
    page.click("input[name=_continue]")  # save and continue editing: back on this page
    page.wait_for_selector(".messagelist .success")
    shot("saved")

    kakao_app.refresh_from_db()
    assert kakao_app.kakaopay_secret_key == new_secret
    assert kakao_app.kakaopay_admin_key == "test-admin-key-0123456789"  # left blank: kept
    with connection.cursor() as cursor:  # encrypted at rest
        cursor.execute("SELECT kakaopay_secret_key FROM kakaoplugin_kakaoapp WHERE id = %s", [kakao_app.pk])
        assert new_secret not in cursor.fetchone()[0]
    html = page.content()
    assert new_secret not in html and old_secret not in html
    assert page.input_value("#id_kakaopay_secret_key") == ""
    assert f"Currently set ({mask(new_secret)})" in page.inner_text(".field-kakaopay_secret_key")

    # nowhere else either: the list, and the object's history
    for url in (CHANGELIST, f"{CHANGELIST}{kakao_app.pk}/history/"):
        page.goto(url)
        assert new_secret not in page.content(), url
    shot("history")
    assert page.locator("#change-history tbody tr").count() == 1


def test_rotating_the_plugin_key_warns_and_changes_every_url(page, shot, kakao_app):
    old_key = kakao_app.plugin_key
    admin_login(page, make_staff("app-rotator", *APP_PERMS, "kakaoplugin.view_plugin_urls"))  # the URLs hold the key
    page.goto(CHANGELIST)

    page.check(f"#result_list input.action-select[value='{kakao_app.pk}']")
    page.select_option("select[name=action]", "rotate_plugin_key")
    shot("action-chosen")
    page.click("#changelist-form button[name=index]")
    warning = page.wait_for_selector(".messagelist .warning")
    shot("rotated")
    assert warning.inner_text() == "Rotated 1 plugin key(s). Register the new URLs with Kakao."

    kakao_app.refresh_from_db()
    new_key = kakao_app.plugin_key
    assert new_key != old_key and kakao_app.plugin_key_rotated_at is not None
    # the change page lists the new URLs only
    page.goto(f"{CHANGELIST}{kakao_app.pk}/change/")
    urls = page.inner_text(".field-plugin_url_list")
    shot("new-urls")
    assert f"/plugin/{new_key}/" in urls and old_key not in page.content()
    # the buyer's browser's URLs carry no plugin key: Kakao Sync's fixed redirect URI (unchanged by
    # the rotation) and the shape of the per-order payment redirects (issue 11)
    assert f"/sync/{kakao_app.pk}/redirect" in urls and "/pay/<partner_order_id>/approval/<order token>" in urls
    assert not [line for line in urls.splitlines() if ("/sync/" in line or "/pay/" in line) and new_key in line]
    # and the live server answers for the new key only
    assert page.request.post(f"/plugin/{old_key}/callbacks/profile", data="{}").status == 404
    assert page.request.post(f"/plugin/{new_key}/callbacks/profile", data="{}").status == 400  # no otp: refused


def test_merchant_api_key_is_shown_exactly_once(page, shot, kakao_app):
    admin_login(page, make_staff("key-maker", "merchant.view_merchantapikey", "merchant.add_merchantapikey"))
    page.goto("/admin/merchant/merchantapikey/")
    page.click("#content-main a.addlink")
    page.wait_for_url("**/admin/merchant/merchantapikey/add/")
    page.select_option("#id_kakao_app", str(kakao_app.pk))
    page.fill("#id_name", "fulfilment system")
    page.check("input[name=scopes][value=orders]")
    shot("add-form")
    page.click("input[name=_save]")

    code = page.wait_for_selector(".messagelist .warning code")
    shot("key-shown")
    plain = code.inner_text()
    assert re.fullmatch(r"kp_[A-Za-z0-9]+_\S{20,}", plain), plain
    key = MerchantApiKey.objects.get()
    assert plain.startswith(f"kp_{key.prefix}_") and plain not in (key.key_hash, key.prefix)
    authenticated = api_key_authenticate(plain=plain)
    assert authenticated is not None and authenticated.pk == key.pk and authenticated.scopes == ["orders"]
    assert authenticated.created_by == "key-maker"

    # never again: not after a reload, not in the list, not on the key's page
    page.reload()
    page.wait_for_selector("#result_list")
    assert plain not in page.content() and page.locator(".messagelist").count() == 0
    assert f"kp_{key.prefix}_…" in page.inner_text("#result_list")
    page.click("#result_list a:text-is('fulfilment system')")
    page.wait_for_url(f"**/admin/merchant/merchantapikey/{key.pk}/change/")
    shot("key-page")
    assert plain not in page.content()
    assert plain.split("_", 2)[2] not in page.content()
