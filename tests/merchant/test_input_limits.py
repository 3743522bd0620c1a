"""Input limits (issue 11): merchant API bodies are capped before anything parses them."""

from __future__ import annotations

import io
import json

import pytest
from django.core.handlers.wsgi import WSGIHandler

from merchant.services import api_key_create

MB = 1024 * 1024


@pytest.fixture
def api_key(kakao_app) -> str:
    kakao_app.payment_plugin_id = "pay-plugin-1"
    kakao_app.save(update_fields=["payment_plugin_id"])
    return api_key_create(kakao_app=kakao_app, name="erp", scopes=["orders"])[1]


def big_sheet(size: int) -> bytes:
    return json.dumps({"product_id": "P-1", "relay_id": "x" * size}).encode()


def assert_413(status: int, body: bytes) -> None:
    assert status == 413
    data = json.loads(body)
    assert data["status"] == 413 and "body over" in data["message"], data


@pytest.mark.django_db
def test_a_30_mb_merchant_api_body_is_refused_unparsed(client, api_key, settings):
    """The reproduction: a 30 MB body to the merchant API was parsed (DRF has no cap)."""
    r = client.post(
        "/api/v1/order-sheets", big_sheet(30 * MB), content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {api_key}",
    )  # fmt: skip
    assert r["Content-Type"].startswith("application/json")
    assert_413(r.status_code, r.content)
    # unauthenticated callers are refused the same way, before any authentication work
    r = client.post("/api/v1/order-sheets", big_sheet(2 * MB), content_type="application/json")
    assert_413(r.status_code, r.content)


@pytest.mark.django_db
def test_bodies_under_the_cap_still_work(client, api_key, settings):
    settings.API_MAX_BODY_BYTES = 200
    r = client.post(
        "/api/v1/order-sheets", {"product_id": "nope"}, content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {api_key}",
    )  # fmt: skip
    assert r.status_code != 413 and r.json()["status"] == r.status_code  # the API's own answer
    r = client.post(
        "/api/v1/order-sheets", big_sheet(300), content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {api_key}",
    )  # fmt: skip
    assert_413(r.status_code, r.content)


def call_wsgi(environ_extra: dict, body: bytes, headers: dict) -> tuple[int, bytes]:
    """One request through Django's WSGI handler, the way gunicorn hands over a chunked body:
    no CONTENT_LENGTH, the de-chunked bytes in wsgi.input, ``wsgi.input_terminated``."""
    environ = {
        "REQUEST_METHOD": "POST", "PATH_INFO": "/api/v1/order-sheets", "QUERY_STRING": "",
        "SERVER_NAME": "testserver", "SERVER_PORT": "80", "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1", "CONTENT_TYPE": "application/json",
        "HTTP_TRANSFER_ENCODING": "chunked",
        "wsgi.input": io.BytesIO(body), "wsgi.url_scheme": "http", "wsgi.errors": io.StringIO(),
        "wsgi.multithread": False, "wsgi.multiprocess": False, "wsgi.run_once": False,
    } | {k: v for k, v in headers.items()} | environ_extra  # fmt: skip
    status = {}

    def start_response(line, _headers, exc_info=None):
        status["code"] = int(line.split()[0])

    result = WSGIHandler()(environ, start_response)
    content = b"".join(result)
    if hasattr(result, "close"):
        result.close()
    return status["code"], content


@pytest.mark.django_db(transaction=True)
def test_streamed_bodies_without_a_length_are_capped_too(api_key, settings):
    settings.API_MAX_BODY_BYTES = 64 * 1024
    auth = {"HTTP_AUTHORIZATION": f"Bearer {api_key}"}
    status, content = call_wsgi({"wsgi.input_terminated": True}, big_sheet(100 * 1024), auth)
    assert_413(status, content)
    # a small streamed body reaches the API as an ordinary body (parsed: the product is unknown)
    status, content = call_wsgi({"wsgi.input_terminated": True}, json.dumps({"product_id": "nope"}).encode(), auth)
    assert status == 422 and "nope" in json.loads(content)["message"], content
    # a server that hands over the raw chunked stream: refused, never read
    status, content = call_wsgi({}, b"5\r\nhello\r\n0\r\n\r\n", auth)
    assert status == 411 and json.loads(content)["status"] == 411
