"""Outbound calls only where they belong (issue 11): webhook endpoints are https on public hosts,
checked when saved and again at every delivery, called at the checked address, answers read with a
small cap and only their status stored."""

from __future__ import annotations

import ipaddress
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.exceptions import ValidationError

from kakaoplugin.clients import outbound
from kakaoplugin.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from kakaoplugin.services import webhook_emit, webhook_endpoint_create
from tests.support.webhooks import Receiver

REFUSED = [
    "http://127.0.0.1:8000/hooks",  # the reproductions
    "http://169.254.169.254/latest/meta-data/",
    "http://[::1]/",
    "https://127.0.0.1/hooks",
    "https://169.254.169.254/latest/meta-data/",
    "https://[::1]/",
    "https://[::ffff:127.0.0.1]/",
    "https://[::ffff:a9fe:a9fe]/",  # 169.254.169.254, IPv4-mapped
    "https://10.1.2.3/",
    "https://192.168.0.10/",
    "https://172.16.0.1/",
    "https://100.64.0.1/",  # shared address space
    "https://0.0.0.0/",
    "https://224.0.0.1/",
    "https://240.0.0.1/",
    "https://[fe80::1]/",
    "https://[fc00::1]/",
    "https://2130706433/",  # 127.0.0.1 in decimal
    "https://0x7f.1/",
    "https://localhost/hooks",
    "https://localhost.:8443/hooks",
    "https://user@93.184.216.34/",
    "http://93.184.216.34/hooks",  # public, but http
    "ftp://93.184.216.34/",
    "https://no-such-host.invalid/hooks",
]


@pytest.fixture
def production_rules(settings):
    settings.WEBHOOK_ALLOW_LOCAL = False


@pytest.mark.django_db
@pytest.mark.parametrize("url", REFUSED)
def test_refused_when_saved(kakao_app, production_rules, url):
    with pytest.raises(ValidationError) as info:
        webhook_endpoint_create(kakao_app=kakao_app, url=url)
    assert "url" in info.value.message_dict
    endpoint = WebhookEndpoint(kakao_app=kakao_app, url=url, secret="s")
    with pytest.raises(ValidationError):
        endpoint.full_clean()
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.django_db
def test_public_https_endpoint_is_accepted(kakao_app, production_rules):
    endpoint = webhook_endpoint_create(kakao_app=kakao_app, url="https://93.184.216.34/hooks/kakao")
    endpoint.full_clean()
    checked = outbound.check_public_url("https://[2606:2800:220:1:248:1893:25c8:1946]/h", allow_local=False)
    assert checked.addresses == (ipaddress.ip_address("2606:2800:220:1:248:1893:25c8:1946"),)


@pytest.mark.django_db
def test_admin_refuses_a_private_endpoint(admin_client, kakao_app, production_rules):
    r = admin_client.post(
        "/admin/kakaoplugin/webhookendpoint/add/",
        {"kakao_app": kakao_app.pk, "url": "http://169.254.169.254/latest/meta-data/", "event_types": "[]", "is_active": "on"},
    )
    assert r.status_code == 200 and "웹훅 주소는 공개 호스트의 https여야 합니다" in r.content.decode()  # Korean: the default
    assert not WebhookEndpoint.objects.exists()


def emit(kakao_app, key: str):
    return webhook_emit(kakao_app=kakao_app, event_type="order.paid", data={"x": 1}, idempotency_key=key)


@pytest.mark.django_db
def test_checked_again_at_delivery(kakao_app, settings, django_capture_on_commit_callbacks, eager_tasks):
    """Saved while allowed (or while its name resolved elsewhere): nothing is sent once it is not."""
    receiver = Receiver()
    try:
        webhook_endpoint_create(kakao_app=kakao_app, url=receiver.url)
        settings.WEBHOOK_ALLOW_LOCAL = False
        with django_capture_on_commit_callbacks(execute=True):
            event = emit(kakao_app, "k-refused")
        delivery = WebhookDelivery.objects.get(event=event)
        assert receiver.received == []
        assert delivery.status == "pending" and delivery.last_status_code is None
        assert delivery.last_error.startswith("refused: ")
    finally:
        receiver.close()


class Answering:
    """A receiver that answers ``status`` with ``size`` bytes (optionally a redirect) and records
    what it was sent and how much of its answer it could write before the caller hung up."""

    def __init__(self, status: int = 200, size: int = 0, location: str | None = None):
        self.requests: list[dict] = []
        self.written = 0
        self.done = threading.Event()
        me = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                self.rfile.read(int(self.headers["Content-Length"]))
                me.requests.append({"host": self.headers["Host"], "peer": self.client_address[0]})
                self.send_response(status)
                if location:
                    self.send_header("Location", location)
                self.send_header("Content-Length", str(size))
                self.end_headers()
                chunk = b"x" * 65536
                try:
                    while me.written < size:
                        self.wfile.write(chunk)
                        me.written += len(chunk)
                except OSError:
                    pass
                finally:
                    me.done.set()

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.mark.django_db
def test_answer_read_with_a_small_cap_and_only_the_status_stored(kakao_app, django_capture_on_commit_callbacks, eager_tasks):
    size = 256 * 1024 * 1024
    receiver = Answering(status=200, size=size)
    try:
        webhook_endpoint_create(kakao_app=kakao_app, url=f"http://localhost:{receiver.port}/hooks")
        with django_capture_on_commit_callbacks(execute=True):
            event = emit(kakao_app, "k-big")
        delivery = WebhookDelivery.objects.get(event=event)
        assert delivery.status == "delivered" and delivery.last_status_code == 200
        assert receiver.done.wait(10)
        assert receiver.written < size // 4  # we hung up after the first KB
        # called at the checked address, with the name it was configured with as Host
        assert receiver.requests == [{"host": f"localhost:{receiver.port}", "peer": "127.0.0.1"}]
        attempt = WebhookAttempt.objects.get(delivery=delivery)
        assert attempt.status_code == 200 and not hasattr(attempt, "response_excerpt")
    finally:
        receiver.close()


@pytest.mark.django_db
def test_redirects_are_not_followed(kakao_app, django_capture_on_commit_callbacks, eager_tasks):
    elsewhere = Answering(status=204)
    redirecting = Answering(status=307, location=f"http://127.0.0.1:{elsewhere.port}/internal")
    try:
        webhook_endpoint_create(kakao_app=kakao_app, url=f"http://127.0.0.1:{redirecting.port}/hooks")
        with django_capture_on_commit_callbacks(execute=True):
            event = emit(kakao_app, "k-redirect")
        delivery = WebhookDelivery.objects.get(event=event)
        assert delivery.last_status_code == 307 and delivery.last_error == "HTTP 307"
        assert elsewhere.requests == []
    finally:
        redirecting.close()
        elsewhere.close()


def test_public_address_rules():
    public = ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111"]
    private = ["127.0.0.1", "10.0.0.1", "169.254.169.254", "::1", "fe80::1", "fc00::1", "::ffff:10.0.0.1",
               "2002:7f00:1::", "100.64.0.1", "0.0.0.0", "255.255.255.255", "198.18.0.1", "192.0.2.1"]  # fmt: skip
    assert all(outbound.is_public_address(ipaddress.ip_address(a)) for a in public)
    assert not any(outbound.is_public_address(ipaddress.ip_address(a)) for a in private)


def test_development_setting_is_refused_in_production(monkeypatch):
    import importlib

    from django.core.exceptions import ImproperlyConfigured

    import config.settings.base as base_settings
    import config.settings.security as security_settings

    monkeypatch.setenv("WEBHOOK_ALLOW_LOCAL", "true")
    monkeypatch.setenv("DEBUG", "false")
    monkeypatch.setenv("SECRET_KEY", "x" * 50)
    monkeypatch.setenv("FIELD_ENCRYPTION_KEY", "Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmE=")
    importlib.reload(base_settings)  # DEBUG=false
    with pytest.raises(ImproperlyConfigured, match="WEBHOOK_ALLOW_LOCAL"):
        importlib.reload(security_settings)
    monkeypatch.undo()
    importlib.reload(base_settings)
    importlib.reload(security_settings)


# --- pinning over TLS: connect to the checked address, verify and name the configured host -------


def _self_signed(tmp_path, name: str):
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )  # fmt: skip
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return str(cert_path), str(key_path)


def test_tls_call_goes_to_the_checked_address_with_the_hosts_name(tmp_path):
    """``hooks.merchant.test`` resolves nowhere: the call can only reach the server because it is
    made to the checked address, and TLS (certificate and SNI) and Host still name the host."""
    import ssl

    cert, key = _self_signed(tmp_path, "hooks.merchant.test")
    seen: dict = {}
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)

    def remember_sni(sock, server_name, ctx):
        seen.setdefault("sni", server_name)  # returning None: go on with the handshake

    context.sni_callback = remember_sni

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):
            seen["host"] = self.headers["Host"]
            seen["body"] = self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(202)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    port = httpd.server_address[1]
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        checked = outbound.CheckedUrl(
            outbound.SafeUrl("https", "hooks.merchant.test", port, "/hooks", "a=1"), (ipaddress.ip_address("127.0.0.1"),)
        )
        answer = outbound.post_pinned(checked, body=b"{}", headers={}, timeout=5, max_bytes=1, ca_certs=cert)
        assert answer.status == 202 and answer.head == b"o"  # read up to the cap only
        assert seen == {"sni": "hooks.merchant.test", "host": f"hooks.merchant.test:{port}", "body": b"{}"}
        # a certificate for another name is refused, even at the right address
        other = outbound.CheckedUrl(outbound.SafeUrl("https", "evil.test", port, "/", ""), checked.addresses)
        with pytest.raises(outbound.OutboundError):
            outbound.post_pinned(other, body=b"{}", headers={}, timeout=5, max_bytes=10, ca_certs=cert)
    finally:
        httpd.shutdown()
        httpd.server_close()
