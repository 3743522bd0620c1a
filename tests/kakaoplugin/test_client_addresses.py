"""Client addresses behind proxies (issue 11): X-Forwarded-For is believed only from our proxies."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import RequestFactory

from kakaoplugin.gate import client_ip

ALLOWED = "203.0.113.0/24"

pytestmark = pytest.mark.urls("tests.support.plugin_urls")


def ip(settings, cidrs, remote, forwarded=None):
    settings.TRUSTED_PROXY_CIDRS = cidrs
    meta = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        meta["HTTP_X_FORWARDED_FOR"] = forwarded
    return client_ip(RequestFactory().get("/", **meta))


def echo(client, plugin_base, remote, forwarded):
    return client.post(
        plugin_base + "echo", data='{"name":"a"}', content_type="application/json",
        REMOTE_ADDR=remote, HTTP_X_FORWARDED_FOR=forwarded,
    )  # fmt: skip


@pytest.mark.django_db
def test_forwarded_for_sent_straight_to_the_server_is_not_believed(client, kakao_app, plugin_base, settings):
    """The reproduction: production settings, a caller outside the allowlist talking to gunicorn
    directly with ``X-Forwarded-For: <an allowed address>``."""
    settings.DEBUG = False
    settings.TRUSTED_PROXY_COUNT = 1  # what production had before: the last hop, whoever wrote it
    settings.TRUSTED_PROXY_CIDRS = []  # the default
    kakao_app.allowed_networks = ALLOWED
    kakao_app.save()
    r = echo(client, plugin_base, "198.51.100.66", "203.0.113.5")
    assert r.status_code == 403 and r.json()["status"] == 403
    # nor when the caller is not our proxy even though proxies are configured
    settings.TRUSTED_PROXY_CIDRS = ["10.0.0.2/32"]
    assert echo(client, plugin_base, "198.51.100.66", "203.0.113.5").status_code == 403
    # through our proxy, the address it recorded is believed
    assert echo(client, plugin_base, "10.0.0.2", "203.0.113.5").status_code == 200
    assert echo(client, plugin_base, "10.0.0.2", "198.51.100.66").status_code == 403


def test_walk_from_the_right_past_our_proxies(settings):
    proxies = ["10.0.0.0/24", "192.0.2.10"]
    assert ip(settings, [], "10.0.0.5", "203.0.113.5") == "10.0.0.5"  # none trusted: the socket
    assert ip(settings, proxies, "198.51.100.1", "203.0.113.5") == "198.51.100.1"  # peer not ours
    assert ip(settings, proxies, "10.0.0.5", "203.0.113.5") == "203.0.113.5"
    # two of our proxies in a row; what the client wrote on the left is ignored
    assert ip(settings, proxies, "10.0.0.5", "203.0.113.77, 198.51.100.9, 192.0.2.10") == "198.51.100.9"
    # a forged right-most hop that is not an address: fall back to the proxy itself
    assert ip(settings, proxies, "10.0.0.5", "203.0.113.5, garbage") == "10.0.0.5"
    # only proxies in the header: the left-most proxy's peer is unknown, the socket is used
    assert ip(settings, proxies, "10.0.0.5", "10.0.0.7") == "10.0.0.5"
    assert ip(settings, proxies, "10.0.0.5", None) == "10.0.0.5"
    assert ip(settings, ["2001:db8::/32"], "2001:db8::1", "2001:db8::2, 2a00:1450::1") == "2a00:1450::1"


def test_bad_cidr_is_refused_at_start(monkeypatch):
    import importlib

    import config.settings.security as security_settings

    monkeypatch.setenv("TRUSTED_PROXY_CIDRS", "10.0.0.1/8")  # host bits set: gunicorn refuses it too
    with pytest.raises(ImproperlyConfigured):
        importlib.reload(security_settings)
    monkeypatch.delenv("TRUSTED_PROXY_CIDRS")
    importlib.reload(security_settings)


def test_gunicorn_trusts_forwarded_proto_from_the_same_proxies(monkeypatch):
    import runpy
    from pathlib import Path

    conf = Path(__file__).resolve().parents[2] / "gunicorn.conf.py"
    monkeypatch.delenv("TRUSTED_PROXY_CIDRS", raising=False)
    assert runpy.run_path(str(conf))["forwarded_allow_ips"] == ""
    monkeypatch.setenv("TRUSTED_PROXY_CIDRS", "172.30.0.2, 10.0.0.0/24")
    assert runpy.run_path(str(conf))["forwarded_allow_ips"] == "172.30.0.2,10.0.0.0/24"
    from gunicorn.config import Config

    config = Config()
    config.set("forwarded_allow_ips", "")
    assert config.forwarded_allow_ips == []


ROOT = __import__("pathlib").Path(__file__).resolve().parents[2]


def test_compose_publishes_only_the_proxy():
    import yaml

    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    published = {name for name, svc in services.items() if svc.get("ports") and "monitoring" not in svc.get("profiles", [])}
    assert published == {"proxy"}
    for name, svc in services.items():  # the opt-in monitoring profile: this host's loopback only
        if "monitoring" in svc.get("profiles", []):
            assert all(str(p).startswith("127.0.0.1:") for p in svc.get("ports", [])), name
    assert "ports" not in services["web"] and services["web"]["expose"] == ["8000"]
    proxy = services["proxy"]
    assert proxy["image"].startswith("caddy")
    assert "./ops/caddy/Caddyfile:/etc/caddy/Caddyfile:ro" in proxy["volumes"]
    address = proxy["networks"]["edge"]["ipv4_address"]
    trusted = compose["x-app"]["environment"]["TRUSTED_PROXY_CIDRS"]
    assert trusted == f"{address}/32"
    assert set(services["web"]["networks"]) == {"default", "edge"}
    assert "reverse_proxy web:8000" in (ROOT / "ops/caddy/Caddyfile").read_text()


@pytest.mark.django_db
def test_forwarded_proto_from_anyone_but_our_proxy_is_dropped(client, settings):
    """Production: https is decided by X-Forwarded-Proto (SECURE_PROXY_SSL_HEADER). A caller that
    reaches the server directly cannot claim https (and skip the redirect, or get secure cookies)."""
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_REDIRECT_EXEMPT = []
    settings.TRUSTED_PROXY_CIDRS = ["10.0.0.2/32"]
    r = client.get("/admin/login/", REMOTE_ADDR="198.51.100.66", HTTP_X_FORWARDED_PROTO="https")
    assert r.status_code == 301 and r["Location"].startswith("https://")
    r = client.get("/admin/login/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_PROTO="https")
    assert r.status_code == 200
