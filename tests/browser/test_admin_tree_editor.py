"""A merchant in a real browser on the option tree editor (a product's page), in Korean and in
English: a group shows only the fields its type uses and switching the type changes them at once
(no reload), the option rows fit their panel, the chain is picked by name, a rule the save breaks
is shown at the field that broke it (then fixed and saved), and option T1's answer is one click
away in a dialog, the same JSON option T1 serves over HTTP.

English is asked for with Accept-Language. What only the i18n work decides (the admin's own
language switching: ``LocaleMiddleware``, ``locale/ko``) is asserted when it is there: the texts
this editor adds are compared with what the translation catalogue says for the page's language.
"""

from __future__ import annotations

import copy
import json

import pytest
import requests
from django.conf import settings
from django.utils import translation

from catalog.models import OptionGroup, OptionSubGroup, Product
from catalog.services import option_tree_import
from catalog.tree import TreeInvalid, check_tree
from tests.support.catalog_trees import chain_tree

from .conftest import admin_login, make_staff

CATALOG_PERMS = (
    "catalog.view_product", "catalog.add_product", "catalog.change_product",
    *(f"catalog.{action}_{model}" for model in ("optiongroup", "optionsubgroup", "option")
      for action in ("view", "add", "change", "delete")),
)  # fmt: skip
LANGUAGES = {"ko": "ko-KR,ko;q=0.9", "en": "en-US,en;q=0.9"}
SWITCHES_LANGUAGE = "django.middleware.locale.LocaleMiddleware" in settings.MIDDLEWARE


def in_language(language: str, text: str) -> str:
    with translation.override(language):
        return translation.gettext(text)


def field(page, name: str):
    return page.locator(f"[name='{name}']")


def shown(page, name: str) -> bool:
    return field(page, name).is_visible()


def problem_message(language: str, broken: dict, field_key: str) -> str:
    """What the tree validator says (in ``language``) of the problem at ``field_key``."""
    with translation.override(language), pytest.raises(TreeInvalid) as caught:
        check_tree(broken)
    return next(p.message for p in caught.value.problems if p.field == field_key)


@pytest.mark.parametrize("language", ["ko", "en"])
def test_merchant_edits_a_tree_in_the_editor(page, shot, live_server, kakao_app, language):
    product = option_tree_import(data=chain_tree())
    admin_login(page, make_staff("merchant", *CATALOG_PERMS))
    page.set_extra_http_headers({"Accept-Language": LANGUAGES[language]})
    page.goto(f"/admin/catalog/product/{product.pk}/change/", timeout=60_000)
    page.wait_for_selector("select[data-type-fields]")
    if language == "ko" or SWITCHES_LANGUAGE:
        assert page.locator("html").get_attribute("lang").startswith(language)
    shot("editor")

    groups = {g.group_id: g for g in OptionGroup.objects.filter(product=product)}
    prefix = {gid: f"option_groups-{i}" for i, gid in enumerate(["size", "color", "phone"])}
    # --- each group shows the fields of its type ---------------------------------------------------
    for name in ("min_length", "max_length", "min_value", "max_value", "placeholder"):
        assert not shown(page, f"{prefix['size']}-{name}"), name  # SELECT: none of them
    assert shown(page, f"{prefix['phone']}-min_length") and shown(page, f"{prefix['phone']}-max_length")
    assert shown(page, f"{prefix['phone']}-placeholder")
    assert not shown(page, f"{prefix['phone']}-min_value") and not shown(page, f"{prefix['phone']}-max_value")
    assert groups["phone"].type == "NUMBERS"

    # a new group: SELECT at first; switched to INTEGER, then DATE, the form follows without a reload
    page.click(".djn-add-handler.djn-model-catalog-optiongroup.djn-level-1")
    new = "option_groups-3"
    page.wait_for_selector(f"[name='{new}-type']")
    assert not shown(page, f"{new}-min_value") and page.locator(f"#{new} .djn-group-nested").first.is_visible()
    page.select_option(f"[name='{new}-type']", "INTEGER")
    assert shown(page, f"{new}-min_value") and shown(page, f"{new}-max_value") and shown(page, f"{new}-placeholder")
    assert not shown(page, f"{new}-min_length")
    assert not page.locator(f"#{new} .djn-group-nested").first.is_visible()  # no sub-groups for an answer
    page.select_option(f"[name='{new}-type']", "DATE")
    assert shown(page, f"{new}-placeholder") and not shown(page, f"{new}-min_value")
    page.fill(f"[name='{new}-group_id']", "when")
    page.fill(f"[name='{new}-name']", "배송일")
    page.fill(f"[name='{new}-position']", "3")
    shot("new-date-group")

    # --- the option rows fit their panel; the chain is picked by name --------------------------------
    overflow = page.evaluate(
        """() => [...document.querySelectorAll('.djn-group.djn-tabular table')].filter(t => t.offsetParent)
              .map(t => t.getBoundingClientRect().right - t.closest('.djn-group-nested').getBoundingClientRect().right)"""
    )
    assert overflow and max(overflow) <= 1, overflow
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    s_next = f"{prefix['size']}-sub_groups-0-options-0-next_sub_group"
    labels = [t.strip() for t in page.locator(f"[name='{s_next}'] option").all_inner_texts()]
    assert labels == ["---------", "색상 › S:color (빨강, 초록)", "색상 › M:color (빨강)"]
    assert page.locator(f"[name='{s_next}'] option:checked").inner_text() == "색상 › S:color (빨강, 초록)"

    # --- a rule broken: said at the field, nothing saved ---------------------------------------------
    max_select = f"{prefix['color']}-sub_groups-1-max_select"
    assert field(page, f"{prefix['color']}-sub_groups-1-sub_group_id").input_value() == "M:color"
    field(page, max_select).fill("2")
    # a save answers in a second on a quiet machine, far later on a loaded one: wait (not a timing test)
    page.click("input[name=_continue]", no_wait_after=True)
    page.wait_for_selector(".errornote", timeout=60_000)
    broken = copy.deepcopy(chain_tree())
    broken["option_groups"][1]["option_sub_groups"][1]["max_select"] = 2
    expected = problem_message(language, broken, "max_select")
    at_field = page.locator(f"#{prefix['color']}-sub_groups-1 .fieldBox.field-max_select").locator("xpath=..")
    assert expected in at_field.locator(".errorlist").inner_text()
    at_field.scroll_into_view_if_needed()
    shot("rule-error-at-its-field")
    assert OptionSubGroup.objects.get(product=product, sub_group_id="M:color").max_select is None
    assert not OptionGroup.objects.filter(product=product, group_id="when").exists()
    assert shown(page, f"{new}-placeholder") and not shown(page, f"{new}-min_value")  # the DATE group as typed

    field(page, max_select).fill("1")
    page.click("input[name=_continue]", no_wait_after=True)
    page.wait_for_selector(".messagelist .success", timeout=60_000)
    shot("saved")
    assert OptionSubGroup.objects.get(product=product, sub_group_id="M:color").max_select == 1
    assert OptionGroup.objects.get(product=product, group_id="when").type == "DATE"

    # --- option T1's answer, one click away ---------------------------------------------------------
    page.click("#content .object-tools a.tree-preview-open")
    dialog = page.locator("dialog#tree-preview")
    dialog.wait_for(state="visible")
    title = in_language(language, "Option T1's answer for this product, as stored (save to see your changes)")
    assert dialog.locator("#tree-preview-title").inner_text() == title
    frame = page.frame_locator("dialog#tree-preview iframe")
    shown_json = json.loads(frame.locator("pre").last.inner_text())
    assert frame.locator("#header").count() == 0  # the preview page without the admin's chrome
    shot("t1-preview-dialog")
    r = requests.get(f"{live_server.url}/plugin/{kakao_app.plugin_key}/options", params={"id": "tree:1"}, timeout=10)
    assert r.status_code == 200 and r.json() == shown_json  # what Kakao gets is what the dialog shows
    assert [g["id"] for g in shown_json["data"]["option_groups"]] == ["size", "color", "phone", "when"]
    dialog.locator(".tree-preview-close").click()
    dialog.wait_for(state="hidden")
    assert page.url.endswith(f"/admin/catalog/product/{product.pk}/change/")  # still on the editor
    assert Product.objects.filter(pk=product.pk).exists()
