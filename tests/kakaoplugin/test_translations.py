"""Korean first, English by the browser or the switch, and nothing a person reads left out of the
Korean catalogue (locale/ko/LC_MESSAGES/django.po).

- the catalogue is complete: ``makemessages`` run on a copy of the tree finds no string without
  its Korean (nor a fuzzy one), and the committed ``django.mo`` is the ``.po`` compiled;
- every model of our apps, its fields (verbose name, help text, choices) and every ModelAdmin's
  actions, columns, fieldsets and filters are marked for translation (lazy) and have their Korean;
- no admin module hands ``message_user`` a plain string or an f-string;
- no admin template of ours holds words outside ``{% translate %}`` / ``{% blocktranslate %}``;
- the admin answers in Korean, in English for ``Accept-Language: en`` or after the language
  switch; plugin answers (what Kakao shows buyers) stay the same whatever the language.
"""

from __future__ import annotations

import ast
import gettext as gettext_module
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.apps import apps
from django.conf import settings
from django.contrib import admin
from django.contrib.auth.models import User
from django.template.base import Lexer, TokenType
from django.utils import translation
from django.utils.functional import Promise
from django.utils.translation import trans_real

BASE = Path(settings.BASE_DIR)
PO = BASE / "locale" / "ko" / "LC_MESSAGES" / "django.po"
MO = PO.with_suffix(".mo")
OUR_APPS = ("kakaoplugin", "catalog", "orders", "callbacks", "merchant", "backoffice")
COPY_IGNORED = shutil.ignore_patterns(
    ".venv", ".git", "var", "artifacts", "media", "__pycache__", "*.pyc", "node_modules", ".ruff_cache"
)

needs_gettext = pytest.mark.skipif(
    shutil.which("msgfmt") is None or shutil.which("xgettext") is None,
    reason="GNU gettext (msgfmt, xgettext) is not installed: apt-get install gettext",
)


def msgids(text: str) -> list[str]:
    """The msgids of a .po text (the header's empty one left out), continuation lines joined."""
    found = []
    for block in re.findall(r'^msgid ((?:".*"\n?)+)', text, flags=re.M):
        msgid = "".join(ast.literal_eval(line) for line in block.strip().splitlines())
        if msgid:
            found.append(msgid)
    return found


@needs_gettext
def test_makemessages_finds_no_string_without_its_korean(tmp_path):
    tree = tmp_path / "tree"
    shutil.copytree(BASE, tree, ignore=COPY_IGNORED)
    subprocess.run(["bin/messages"], cwd=tree, check=True, capture_output=True,
                   env={"PATH": "/usr/bin:/bin", "PYTHON": sys.executable, "HOME": str(tmp_path)})  # fmt: skip
    po = tree / PO.relative_to(BASE)
    untranslated = subprocess.run(["msgattrib", "--untranslated", "--no-obsolete", str(po)],
                                  check=True, capture_output=True, text=True).stdout  # fmt: skip
    fuzzy = subprocess.run(["msgattrib", "--only-fuzzy", "--no-obsolete", str(po)],
                           check=True, capture_output=True, text=True).stdout  # fmt: skip
    assert msgids(untranslated) == [], "strings without Korean: fill their msgstr in locale/ko (bin/messages)"
    assert msgids(fuzzy) == [], "fuzzy (guessed) translations: check them and drop the fuzzy flag"
    # and the committed catalogue is what makemessages makes (no string missing, none left over)
    assert sorted(msgids(po.read_text())) == sorted(msgids(PO.read_text())), "run bin/messages and commit"


@needs_gettext
def test_the_committed_mo_is_the_po_compiled(tmp_path):
    fresh = tmp_path / "django.mo"
    subprocess.run(["msgfmt", "--check-format", "-o", str(fresh), str(PO)], check=True)
    with fresh.open("rb") as a, MO.open("rb") as b:
        want, have = gettext_module.GNUTranslations(a), gettext_module.GNUTranslations(b)
    assert have._catalog == want._catalog, "locale/ko/LC_MESSAGES/django.mo is stale: run bin/messages compile"


def korean(text) -> str | None:
    """The Korean of a lazy string, or None when it is not lazy or has no Korean in the catalogue."""
    if not isinstance(text, Promise):
        return None
    with translation.override(None):
        msgid = str(text)
    catalog = trans_real.translation("ko")._catalog
    if msgid not in catalog:
        return None
    with translation.override("ko"):
        return str(text)


def our_models():
    return [m for m in apps.get_models() if m._meta.app_label in OUR_APPS]


def test_our_models_fields_and_choices_are_lazy_and_korean():
    missing = []

    def check(where: str, text) -> None:
        if korean(text) is None:
            missing.append(f"{where}: {text!r}")

    for app in OUR_APPS:
        check(f"app {app}", apps.get_app_config(app).verbose_name)
    for model in our_models():
        label = model._meta.label
        check(f"{label} verbose_name", model._meta.verbose_name)
        check(f"{label} verbose_name_plural", model._meta.verbose_name_plural)
        for field in model._meta.get_fields():
            if field.auto_created or not hasattr(field, "verbose_name"):
                continue
            check(f"{label}.{field.name} verbose_name", field.verbose_name)
            if field.help_text:
                check(f"{label}.{field.name} help_text", field.help_text)
            for value, text in field.flatchoices or ():
                check(f"{label}.{field.name} choice {value!r}", text)
    assert len(our_models()) > 30
    assert missing == [], "\n".join(missing)


def admin_texts(model_admin) -> list[tuple[str, object]]:
    """What a ModelAdmin shows a person: action descriptions, column and read-only field titles,
    fieldset titles, list filter titles (its inlines too)."""
    where = f"{type(model_admin).__module__}.{type(model_admin).__name__}"
    texts = []
    actions = model_admin._get_base_actions() if isinstance(model_admin, admin.ModelAdmin) else ()
    for _func, name, description in actions:
        texts.append((f"{where} action {name}", description))
    names = [*getattr(model_admin, "list_display", ()), *model_admin.readonly_fields]
    for name in names:
        attr = name if callable(name) else getattr(model_admin, name, None)
        if attr is not None and callable(attr) and hasattr(attr, "short_description"):
            texts.append((f"{where} column {name}", attr.short_description))
    for title, _options in model_admin.fieldsets or ():
        if title is not None:
            texts.append((f"{where} fieldset", title))
    for item in getattr(model_admin, "list_filter", ()):
        title = getattr(item, "title", None)
        if isinstance(item, type) and title is not None:
            texts.append((f"{where} filter {item.__name__}", title))
    return texts


def test_admin_actions_columns_fieldsets_and_filters_are_lazy_and_korean():
    missing, seen = [], 0
    for model, model_admin in admin.site._registry.items():
        if model._meta.app_label not in OUR_APPS:
            continue
        admins = [model_admin, *(inline(model, admin.site) for inline in model_admin.inlines)]
        for one in admins:
            for where, text in admin_texts(one):
                seen += 1
                if korean(text) is None:
                    missing.append(f"{where}: {text!r}")
    assert seen > 80
    assert missing == [], "\n".join(missing)


def admin_modules() -> list[Path]:
    found = []
    for app in OUR_APPS:
        for path in sorted((BASE / app).rglob("*.py")):
            # admin modules, admin packages (catalog/admin/) and the admin pages' builders
            in_admin = "admin" in path.name or "admin" in path.parts or path.stem in ("order_page", "members", "dashboard")
            if in_admin and "migrations" not in path.parts:
                found.append(path)
    return found


def test_admin_messages_go_through_gettext():
    """``message_user`` and form errors in admin modules: never a literal or an f-string (a
    message from a service's exception, ``str(exc)``, is the service's to translate)."""
    offences = []
    for path in admin_modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
            args = node.args[1:2] if name == "message_user" else node.args[:1] if name == "ValidationError" else []
            args += [k.value for k in node.keywords if k.arg in ("description", "help_text", "label")]
            for arg in args:
                literal = isinstance(arg, ast.JoinedStr) or (
                    isinstance(arg, ast.Constant) and isinstance(arg.value, str) and arg.value.strip("-—… ")
                )
                if literal:
                    offences.append(f"{path.relative_to(BASE)}:{node.lineno} {name}: {ast.unparse(arg)[:80]}")
    assert len(admin_modules()) >= 8
    assert offences == [], "\n".join(offences)


# words an admin template may show untranslated: protocol and plugin names, KakaoPay's field names
NOT_WORDS = {"T1", "T4", "HTTP", "tid", "aid"}
SHOWN_ATTRIBUTES = re.compile(r"""\b(?:title|placeholder|alt|aria-label)\s*=\s*(["'])(.*?)\1""", re.S | re.I)
BUTTON_VALUE = re.compile(r"""<input\b(?=[^>]*\btype\s*=\s*["']?(?:submit|button|reset)\b)[^>]*?\bvalue\s*=\s*(["'])(.*?)\1""", re.S | re.I)
WORD = re.compile(r"[A-Za-z\uac00-\ud7a3\u3131-\u318e][\w\uac00-\ud7a3\u3131-\u318e]*")


def untranslated_words(source: str) -> list[str]:
    """The words a template shows outside translate tags: the template's text (what is inside
    ``{% comment %}``, ``{% blocktranslate %}`` or the ``bodyclass`` block left out; every tag and variable replaced by a
    mark without letters), HTML comments, ``<script>``/``<style>`` and entities taken out; the
    shown attributes (title, placeholder, alt, aria-label, a button's value) kept, the tags' rest
    dropped."""
    text, skip_until = [], None
    for token in Lexer(source).tokenize():
        if token.token_type == TokenType.BLOCK:
            name = token.contents.split()[0] if token.contents.split() else ""
            if skip_until:
                if name == skip_until:
                    skip_until = None
                continue
            if name in ("comment", "blocktranslate", "blocktrans"):
                skip_until = "end" + name
            elif token.contents.split()[:2] == ["block", "bodyclass"]:  # CSS classes of <body>
                skip_until = "endblock"
            text.append("\u00a7")
        elif token.token_type == TokenType.VAR and not skip_until:
            text.append("\u00a7")
        elif token.token_type == TokenType.TEXT and not skip_until:
            text.append(token.contents)
    html = "".join(text)
    html = re.sub(r"<!--.*?-->", " ", html, flags=re.S)
    html = re.sub(r"<(script|style)\b.*?</\1\s*>", " ", html, flags=re.S | re.I)
    shown = [m.group(2) for m in SHOWN_ATTRIBUTES.finditer(html)] + [m.group(2) for m in BUTTON_VALUE.finditer(html)]
    html = re.sub(r"<[^>]*>", " ", html)
    html = re.sub(r"&(?:[A-Za-z]+|#[0-9]+|#x[0-9A-Fa-f]+);", " ", html)
    return [w for part in (html, *shown) for w in WORD.findall(part) if w not in NOT_WORDS]


def admin_templates() -> list[Path]:
    found = [*(BASE / "templates" / "admin").rglob("*.html"), *(BASE / "backoffice" / "templates").rglob("*.html")]
    for app in OUR_APPS:
        found += (BASE / app / "templates" / "admin").rglob("*.html")
    return sorted(set(found))


def test_the_template_check_finds_untranslated_words():
    sample = """{% load i18n %}{% comment %}Not shown{% endcomment %}<!-- nor this -->
    <style>.x { color: red }</style><script>let shown = false;</script>
    <h2>{% translate "Fine" %}</h2><p>{% blocktranslate with n=n %}{{ n }} fine too{% endblocktranslate %} &rsaquo; T1</p>
    <a title="{% translate 'ok' %}" href="{% url 'x' %}">{{ value }}</a>
    <p>Edit tree</p><td>재고 {{ n }}</td><input placeholder="filter" name="q"><input type="submit" value="Save">"""
    assert untranslated_words(sample) == ["Edit", "tree", "재고", "filter", "Save"]


def test_admin_templates_show_no_untranslated_words():
    templates = admin_templates()
    assert len(templates) >= 15
    found = {}
    for path in templates:
        words = untranslated_words(path.read_text())
        if words:
            found[str(path.relative_to(BASE))] = words
    assert found == {}, "wrap these in {% translate %}: " + repr(found)


@pytest.fixture
def superuser_client(client, db):
    client.force_login(User.objects.create_superuser("boss", "boss@example.com", "pw-1234567"))
    return client


def test_admin_is_korean_by_default_english_by_the_browser(superuser_client, kakao_app):
    korean_page = superuser_client.get("/admin/kakaoplugin/kakaoapp/").content.decode()
    assert '<html lang="ko"' in korean_page
    assert "카카오 톡비즈 플러그인 관리" in korean_page and "카카오 앱" in korean_page
    assert "플러그인 키 교체" in korean_page  # our action
    english = superuser_client.get("/admin/kakaoplugin/kakaoapp/", HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9").content.decode()
    assert '<html lang="en"' in english
    assert "Kakao TalkBiz plugin backend" in english and "Rotate the plugin key" in english
    assert "카카오 앱" not in english


def test_the_language_switch_keeps_english_until_switched_back(superuser_client):
    r = superuser_client.post("/i18n/setlang/", {"language": "en", "next": "/admin/orders/order/"})
    assert r.status_code == 302 and r["Location"] == "/admin/orders/order/"
    page = superuser_client.get("/admin/orders/order/").content.decode()
    assert '<html lang="en"' in page and 'id="language-switch"' in page
    assert page.count('<summary>') and "By needs attention" in page
    superuser_client.post("/i18n/setlang/", {"language": "ko", "next": "/admin/"})
    page = superuser_client.get("/admin/orders/order/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert '<html lang="ko"' in page and "확인 필요" in page  # the cookie beats the browser


def test_the_switch_is_on_the_login_page_too(client, db):
    page = client.get("/admin/login/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'id="language-switch"' in page and 'action="/i18n/setlang/"' in page
    assert '<option value="ko">한국어</option>' in page and '<option value="en" selected>English</option>' in page


def test_plugin_answers_do_not_follow_the_language(superuser_client, plugin_base):
    """What Kakao shows a buyer is Korean: an English admin page served just before on the same
    thread, or Kakao asking in English, changes nothing."""

    def malformed_t2(**headers):
        r = superuser_client.post(f"{plugin_base}option", data='{"name": "no id"}', content_type="application/json",
                                  HTTP_X_KAKAO_APPUSERID="app-user-1", **headers)  # fmt: skip
        assert r.status_code == 400 and "Content-Language" not in r, r.content
        return r.json()["message"]

    plain = malformed_t2()
    assert re.search("[가-힣]", plain), plain
    superuser_client.get("/admin/", HTTP_ACCEPT_LANGUAGE="en")
    assert translation.get_language() == settings.LANGUAGE_CODE  # the thread went back to Korean
    assert malformed_t2() == plain
    assert malformed_t2(HTTP_ACCEPT_LANGUAGE="en") == plain


def test_the_hot_reads_never_meet_the_language_middleware(client, plugin_base):
    """Option T1 and payment T4 are answered by the gate above the language middleware: whatever
    the request asks, no language is chosen for them (no Content-Language, no Vary on it)."""
    for path in ("options?id=nothing-here", "order/status?partner_order_id=nothing-here"):
        r = client.get(f"{plugin_base}{path}", HTTP_ACCEPT_LANGUAGE="en")
        assert r["Content-Type"].startswith("application/json"), r.content
        assert "Content-Language" not in r and "Accept-Language" not in r.get("Vary", ""), path
    admin_page = client.get("/admin/login/", HTTP_ACCEPT_LANGUAGE="en")
    assert admin_page["Content-Language"] == "en" and "Accept-Language" in admin_page["Vary"]
