"""Logs (issue 11): no log line carries the plugin key, a pg_token, a Kakao Sync code or state, an API
key, the REST API key or a buyer's personal data.

The end-to-end test runs the simulator's full scenario set against the production server (gunicorn
with gunicorn.conf.py: its access and error logs) and against runserver (Django's access log), each
a process of its own on the test database with the real Celery worker, and scans every line the
server, the worker and this process logged for each secret the run used.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import subprocess
import sys
import time

import pytest
import requests
from django.conf import settings as django_settings
from django.core.management import call_command
from django.db import connection

from catalog.models import Product
from catalog.services import option_tree_import
from kakaoplugin.logging import RedactingFormatter, redact
from merchant.models import ChatbotSkills
from merchant.services import api_key_create
from simulator import flows, scenarios
from tests.conftest import ARTIFACTS, ROOT, _database_url, fake_environment
from tests.support.processes import free_port

DEMO_PRODUCT = ROOT / "catalog" / "fixtures" / "demo_product.json"

KEY = "Abc_def-123456789012345678901234567890ABCDE"


# --- the redaction itself ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "line,secret",
    [
        (f'"GET /plugin/{KEY}/order/status?order_id=po_1 HTTP/1.1" 200', KEY),
        (f'"GET /%70lugin/{KEY}/order/status HTTP/1.1" 404', KEY),  # the reproduction
        (f'"GET /%2570lugin/{KEY}/x HTTP/1.1" 404', KEY),
        (f'"GET /plugin%2F{KEY}/x HTTP/1.1" 404', KEY),
        (f'"GET /PLUGIN/{KEY}/x HTTP/1.1" 404', KEY),
        ('"GET /plugin/<key>/payment/approve?order_id=po_1&pg_token=9f8e7d6c5b4a3210fedc HTTP/1.1" 200', "9f8e7d6c5b4a3210fedc"),
        ('"GET /pay/approve/tok?pg%5Ftoken=9f8e7d6c5b4a3210fedc HTTP/1.1" 200', "9f8e7d6c5b4a3210fedc"),
        ('"GET /kakaosync/redirect?code=Zq1-Kx9_ab8Cd7Ef6Gh5&state=st8Yh7Gf6Ed5 HTTP/1.1" 302', "Zq1-Kx9_ab8Cd7Ef6Gh5"),
        ('"GET /kakaosync/redirect?code=Zq1-Kx9_ab8Cd7Ef6Gh5&state=st8Yh7Gf6Ed5 HTTP/1.1" 302', "st8Yh7Gf6Ed5"),
        ('"GET /b/approve?token=Tk9Lm8Nn7Oo6Pp5 HTTP/1.1" 302', "Tk9Lm8Nn7Oo6Pp5"),
        ("Authorization: Bearer kp_0a1b2c3d4e5f_S3cr3tS3cr3tS3cr3tS3cr3t", "S3cr3tS3cr3tS3cr3tS3cr3t"),
        ("Authorization: KakaoAK 4f5e6d7c8b9a0f1e2d3c", "4f5e6d7c8b9a0f1e2d3c"),
        ("Authorization: SECRET_KEY DEV1234567890ABCDEF", "DEV1234567890ABCDEF"),
        ("GET https://k.example/otp/OtPtOkEn123/onetimeprofile?rest_api_key=RrEsTkEy99", "RrEsTkEy99"),
        ("GET https://k.example/otp/OtPtOkEn123/onetimeprofile?rest_api_key=RrEsTkEy99", "OtPtOkEn123"),
        ("{'pg_token': 'Pg7Pg7Pg7Pg7', 'tid': 'T1'}", "Pg7Pg7Pg7Pg7"),
        ('{"access_token": "AcCeSs123", "refresh_token": "ReFrEsH456"}', "AcCeSs123"),
        ("receiver 010-1234-5678 / +82 10-1234-5678 / 01012345678", "1234"),
    ],
)
def test_redact(line, secret):
    assert secret not in redact(line), redact(line)


def test_redact_keeps_what_is_not_secret():
    line = '"GET /plugin/<key>/order/status?order_id=po_1&relay_id=r9 HTTP/1.1" 200 57 "-" "Kakao"'
    assert redact(line) == line
    assert redact("/%EA%B0%80/item 100% done") == "/%EA%B0%80/item 100% done"
    assert redact(redact("?pg_token=abc")) == "?pg_token=<redacted>"


def test_tracebacks_are_redacted_too():
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed: %s", (f"/plugin/{KEY}/x",), None)
    try:
        raise ValueError("url /plugin/" + KEY + "/payment/approve?pg_token=abcdef123456")
    except ValueError:
        record.exc_info = sys.exc_info()
    out = RedactingFormatter("%(message)s").format(record)
    assert KEY not in out and "abcdef123456" not in out and "ValueError" in out


# --- the whole simulator against a real server, every log scanned ----------------------------


def _server_command(kind: str, port: int) -> list[str]:
    if kind == "gunicorn":
        return [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--bind", f"127.0.0.1:{port}",
                "--workers", "1", "--threads", "8", "config.wsgi:application"]  # fmt: skip
    return [sys.executable, "manage.py", "runserver", "--noreload", f"127.0.0.1:{port}"]


@pytest.fixture
def server(request, fake_kakao, celery_worker, tmp_path):
    """The server (gunicorn or runserver) as its own process, its output kept in a file."""
    kind = request.param
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log_path = tmp_path / f"{kind}.log"
    env = os.environ | fake_environment(fake_kakao.url) | {
        "DATABASE_URL": _database_url(),
        "REDIS_URL": django_settings.REDIS_URL,
        "CELERY_BROKER_URL": django_settings.CELERY_BROKER_URL,
        "CACHE_URL": django_settings.CACHE_URL,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "SECRET_KEY": django_settings.SECRET_KEY,
        "FIELD_ENCRYPTION_KEY": django_settings.FIELD_ENCRYPTION_KEY,
        "PUBLIC_BASE_URL": url,
        "PYTHONUNBUFFERED": "1",
    }
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            _server_command(kind, port), cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"{kind} did not start: {log_path.read_text(errors='replace')[-3000:]}")
            time.sleep(0.2)
        yield kind, url, log_path
    finally:
        os.killpg(proc.pid, 15)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
        ARTIFACTS.mkdir(exist_ok=True)
        (ARTIFACTS / f"log-secrets-{kind}.log").write_bytes(log_path.read_bytes())


def _secrets(app, fake_state: dict, api_key: str) -> dict[str, str]:
    """Every secret and personal value the run used, by what it is."""
    found: dict[str, str] = {
        "plugin key": app.plugin_key,
        "chatbot skill key": app.chatbot_skills.skill_key,
        "REST API key": app.rest_api_key,
        "KakaoPay admin key": app.kakaopay_admin_key,
        "KakaoPay secret key": app.kakaopay_secret_key,
        "CID secret": app.cid_secret,
        "client secret": app.kakao_client_secret,
        "merchant API key": api_key,
        "merchant API key's secret part": api_key.split("_", 2)[2],  # the secret may hold "_" itself
    }
    for tid, t in (fake_state.get("kakaopay", {}).get("tids") or {}).items():
        if t.get("pg_token"):
            found[f"pg_token of {tid}"] = t["pg_token"]
    kakao = fake_state.get("kakao", {})
    for code in kakao.get("codes") or {}:
        found[f"Kakao Sync code {code[:4]}…"] = code
    for token in kakao.get("tokens") or {}:
        found[f"Kakao access token {token[:4]}…"] = token
    for otp in kakao.get("otps") or {}:
        found[f"OTP token {otp[:4]}…"] = otp
    from callbacks.models import KakaoSyncSignup

    for state in KakaoSyncSignup.objects.exclude(state="").values_list("state", flat=True):
        found[f"Kakao Sync state {state[:4]}…"] = state
    personal = [
        flows.ADDRESS["base_address"], flows.ADDRESS["detail_address"], flows.ADDRESS["receiver_name"],
        flows.ADDRESS["receiver_mobile_number"], scenarios.PROFILE["phone_number"], scenarios.PROFILE["email"],
        scenarios.PROFILE["shipping_address"]["detail_address"], scenarios.PROFILE["ci"],
        scenarios.LOCATION["land_address"]["address_name"], str(scenarios.LOCATION["latitude"]),
        "1234-5678",
    ]  # fmt: skip
    found |= {f"personal data {value!r}": value for value in personal}
    return found


def _offending(lines: list[str], secrets: dict[str, str]) -> list[str]:
    bad = []
    for line in lines:
        for what, value in secrets.items():
            if value and value in line:
                bad.append(f"{what}: {line[:300]}")
        if re.search(r"kp_[0-9a-f]{6,}_(?!<redacted>)[A-Za-z0-9_\-]{8,}", line):
            bad.append(f"an API key: {line[:300]}")
    return bad


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("server", ["gunicorn", "runserver"], indirect=True)
def test_full_simulator_run_leaves_no_secret_in_any_log(server, kakao_app, fake_kakao, tmp_path, capfd, settings):
    if connection.vendor != "postgresql":
        pytest.skip("the server process needs the shared PostgreSQL test database")
    kind, url, log_path = server
    settings.MEDIA_ROOT = tmp_path / "media"
    kakao_app.payment_plugin_id = "sim-payment-plugin"
    kakao_app.save(update_fields=["payment_plugin_id"])
    option_tree_import(
        data=json.loads(DEMO_PRODUCT.read_text(encoding="utf-8")),
        product_settings={"on_sale": True, "kind": "commerce", "tax_type": "taxable", "needs_shipping": True},
    )
    # the chatbot scenario: skills for this app (their key is a secret too) and a product bought at once
    Product.objects.create(code="CHAT-MUG", name="라이언 머그컵", price=12000, stock=100, max_quantity=5)
    ChatbotSkills.objects.create(kakao_app=kakao_app)
    _key, api_key = api_key_create(kakao_app=kakao_app, name="simulator", scopes=["orders"])
    worker_log = ARTIFACTS / "celery-worker.log"
    worker_start = worker_log.stat().st_size if worker_log.exists() else 0

    out = io.StringIO()
    call_command("kakao_simulate", app=kakao_app.name, base=url, fake=fake_kakao.url, api_key=api_key, stdout=out)
    output = out.getvalue()
    assert "8/8 scenarios passed" in output, output
    time.sleep(1.0)  # the last access lines and the worker's last tasks

    secrets = _secrets(kakao_app, fake_kakao.state(), api_key)
    assert any(what.startswith("pg_token") for what in secrets) and any("code" in what for what in secrets)
    server_lines = log_path.read_text(errors="replace").splitlines()
    with open(worker_log, "rb") as f:
        f.seek(worker_start)
        worker_lines = f.read().decode(errors="replace").splitlines()
    captured = capfd.readouterr()
    ours = (captured.out + captured.err).splitlines()
    bad = _offending(server_lines, secrets) + _offending(worker_lines, secrets) + _offending(ours, secrets)
    assert not bad, f"{kind}: secrets in logs:\n" + "\n".join(bad[:30])
    # and the server did log the run: its access log has the plugin calls, T3 and the Kakao Sync redirect
    assert any("/plugin/<key>/order/status" in line for line in server_lines), server_lines[:20]
    assert any("pg_token=<redacted>" in line for line in server_lines)
    assert any("code=<redacted>" in line for line in server_lines)
