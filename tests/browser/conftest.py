"""Real-browser tests of the admin: Playwright (sync API) driving Debian's Chromium against
pytest-django's ``live_server`` (a real HTTP server thread on the test database).

Fixtures:
- ``browser``: one headless Chromium (``/usr/bin/chromium``, or ``$BROWSER_EXECUTABLE``) shared
  by every test of this package; without it the tests SKIP, saying why, unless ``REQUIRE_BROWSER=1``
  (set by ``.ci/run``), when they fail instead.
- ``page``: a page in a fresh browser context per test (own cookies), ``base_url`` = the live
  server, so ``page.goto("/admin/")`` works. Asset failures (a 4xx on ``/static/``) and any 5xx
  fail the test; on failure a screenshot ``<test>-failure.png`` is saved.
- ``shot``: ``shot("step")`` checks the page rendered as a styled admin page (no error page, CSS
  applied) and saves ``artifacts/screenshots/<test>-<nn>-<step>.png``.
Helpers: ``admin_login(page, user, password)``, ``make_staff(username, *perms)``.

Playwright's sync API keeps an asyncio event loop "running" in this thread while it is started,
which makes Django's ORM refuse to run (SynchronousOnlyOperation). So the browser's scope is this
package, and ``DJANGO_ALLOW_ASYNC_UNSAFE`` is set only while it runs: the rest of the suite runs
with Django's check intact.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path

import pytest

from tests.conftest import ARTIFACTS

SCREENSHOTS = ARTIFACTS / "screenshots"
CHROMIUM = Path(os.environ.get("BROWSER_EXECUTABLE", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",  # required as root (CI containers); the pages are our own
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 15_000
STAFF_PASSWORD = "browser-test-pw-1"


def _unavailable(reason: str):
    if os.environ.get("REQUIRE_BROWSER") == "1":
        pytest.fail(f"REQUIRE_BROWSER=1 but {reason}", pytrace=False)
    pytest.skip(f"browser tests need Chromium: {reason} (apt-get install chromium; .ci/run does)")


@pytest.fixture(scope="package")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed (pip install -r requirements.txt)")
    if not os.access(CHROMIUM, os.X_OK):
        _unavailable(f"{CHROMIUM} is missing")

    before = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    # launch() gives Chromium a fresh temporary profile (user-data dir) and removes it on close.
    playwright = sync_playwright().start()
    downloads = tempfile.mkdtemp(prefix="kp-browser-")
    try:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS, downloads_path=downloads
        )
    except Exception as exc:
        playwright.stop()
        pytest.fail(f"{CHROMIUM} is there but did not start: {exc}", pytrace=False)
    try:
        yield browser
    finally:
        browser.close()
        playwright.stop()
        shutil.rmtree(downloads, ignore_errors=True)
        if before is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = before


_REPORTS = pytest.StashKey[dict]()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    item.stash.setdefault(_REPORTS, {})[report.when] = report  # for the failure screenshot
    return report


def _test_name(node) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", node.name).strip("_")


@pytest.fixture
def page(browser, live_server, request):
    name = _test_name(request.node)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for old in SCREENSHOTS.glob(f"{name}-*.png"):
        old.unlink()

    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.problems = []  # what makes a test fail whatever it asserts: broken assets, server errors, JS errors

    def on_response(response):
        url = response.url
        if response.status >= 500 or (response.status >= 400 and "/static/" in url):
            page.problems.append(f"HTTP {response.status} {response.request.method} {url}")

    page.on("response", on_response)
    page.on("pageerror", lambda error: page.problems.append(f"JavaScript error: {error}"))
    # net::ERR_ABORTED is the browser dropping a request because the page navigated on (a click
    # while an asset still loads): not a broken asset, which shows as a 4xx above.
    page.on(
        "requestfailed",
        lambda r: "/static/" in r.url
        and "ERR_ABORTED" not in (r.failure or "")
        and page.problems.append(f"failed: {r.url} {r.failure}"),
    )
    yield page

    reports = request.node.stash.get(_REPORTS, {})
    failed = any(r.failed for r in reports.values())
    if failed:
        try:
            page.screenshot(path=SCREENSHOTS / f"{name}-failure.png", full_page=True)
        except Exception:
            pass  # a crashed or closed page: the failure itself is what matters
    context.close()
    if not failed:
        assert not page.problems, page.problems


@pytest.fixture
def shot(page, request):
    """``shot("step")``: assert the page rendered, then save a full-page screenshot."""
    name = _test_name(request.node)
    count = 0

    def take(step: str) -> Path:
        nonlocal count
        count += 1
        expect_rendered(page)
        path = SCREENSHOTS / f"{name}-{count:02d}-{re.sub(r'[^A-Za-z0-9_-]+', '-', step)}.png"
        page.screenshot(path=path, full_page=True)
        return path

    return take


def expect_rendered(page) -> None:
    """The page is a styled admin page: not an error page, the admin's CSS applied, no broken assets."""
    page.wait_for_load_state("load")
    assert not page.problems, page.problems
    assert page.locator("#header").count() == 1, f"not an admin page: {page.url}\n{page.content()[:2000]}"
    background = page.eval_on_selector("#header", "e => getComputedStyle(e).backgroundColor")
    assert background not in ("", "rgba(0, 0, 0, 0)", "transparent"), "the admin's CSS did not apply"
    assert "Server Error" not in page.title(), page.title()


def admin_login(page, user, password: str = STAFF_PASSWORD) -> None:
    """Log in through the admin's login form as ``user`` (a user or a username); lands on the index."""
    username = user if isinstance(user, str) else user.get_username()
    page.goto("/admin/login/?next=/admin/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("#login-form [type=submit]")
    page.wait_for_url("**/admin/")
    page.wait_for_selector("#user-tools")


def make_staff(username: str, *perms: str, superuser: bool = False, password: str = STAFF_PASSWORD):
    """A staff user with the given permissions (``"app_label.codename"``)."""
    from django.contrib.auth.models import Permission, User

    user = User.objects.create_user(username, password=password, is_staff=True, is_superuser=superuser)
    for perm in perms:
        app_label, codename = perm.split(".", 1)
        user.user_permissions.add(Permission.objects.get(content_type__app_label=app_label, codename=codename))
    return user
