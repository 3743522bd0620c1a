"""The compose healthcheck and Prometheus reach gunicorn with production settings (the README's own
ALLOWED_HOSTS advice) by internal names, where Django refuses other pages as DisallowedHost."""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import time

import pytest
from cryptography.fernet import Fernet

from tests.conftest import ROOT
from tests.support.processes import free_port


@pytest.fixture
def production_gunicorn(tmp_path):
    port = free_port()
    env = {
        k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "CACHE_URL")
    } | {
        "DEBUG": "false", "SECRET_KEY": "prod-" + "k3y!" * 16, "FIELD_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "ALLOWED_HOSTS": "shop.example.com,.example.com", "DATABASE_URL": f"sqlite:///{tmp_path}/prod.sqlite3",
        "VAR_DIR": str(tmp_path), "GUNICORN_BIND": f"127.0.0.1:{port}", "GUNICORN_WORKERS": "1",
        "GUNICORN_THREADS": "2", "PORT": str(port), "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics"),
    }  # fmt: skip
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], env=env, cwd=ROOT, check=True)
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "config.wsgi:application"],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            break
        except OSError:
            time.sleep(0.2)
    yield env, port
    proc.terminate()
    proc.wait(timeout=20)


def _get(port: int, path: str, host: str) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)  # redirects not followed
    conn.request("GET", path, headers={"Host": host})
    return conn.getresponse().status


def test_health_and_metrics_answer_internal_names_with_production_settings(production_gunicorn):
    """Compose's healthcheck (127.0.0.1) and Prometheus (web:8000) over plain http: not a
    DisallowedHost 400, not a redirect to https. Everything else still checks the Host."""
    env, port = production_gunicorn
    assert _get(port, "/readyz", "127.0.0.1") == 200
    assert _get(port, "/healthz", "web:8000") == 200
    assert _get(port, "/metrics", "web:8000") == 404  # no METRICS_TOKEN set: off
    assert _get(port, "/admin/login/", "web:8000") == 400  # DisallowedHost, as before
    assert _get(port, "/admin/login/", "shop.example.com") == 301  # to https
    r = subprocess.run([sys.executable, "ops/healthcheck.py"], env=env, cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    r = subprocess.run([sys.executable, "ops/healthcheck.py", "/no-such-page"], env=env, cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 1 and "/no-such-page answered" in r.stderr


def test_healthcheck_fails_when_nothing_listens(tmp_path):
    env = os.environ | {"PORT": str(free_port())}
    r = subprocess.run([sys.executable, "ops/healthcheck.py", "--timeout", "1"], env=env, cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 1 and "unhealthy" in r.stderr


def _names_read(path, pattern: str) -> set[str]:
    import re

    return set(re.findall(pattern, (ROOT / path).read_text()))


def test_env_example_lists_every_variable_the_project_reads():
    example = _names_read(".env.example", r"(?m)^#?\s*([A-Z][A-Z0-9_]+)=")
    read = set()
    for module in sorted((ROOT / "config" / "settings").glob("*.py")):
        read |= _names_read(module.relative_to(ROOT), r'env(?:\.\w+)?\("([A-Z][A-Z0-9_]+)"')
    read |= _names_read("gunicorn.conf.py", r'environ\.get\("([A-Z][A-Z0-9_]+)"')
    read |= _names_read("kakaoplugin/metrics.py", r'environ\.get\("([A-Z][A-Z0-9_]+)"')
    assert len(read) > 50
    assert read <= example, sorted(read - example)


def test_docker_compose_file_validates(tmp_path):
    """`docker-compose config` (Debian's docker-compose; no Docker engine needed) with .env.example."""
    import shutil

    if shutil.which("docker-compose") is None:
        if os.environ.get("CI"):
            pytest.fail("docker-compose missing: .ci/run installs it")
        pytest.skip("docker-compose is not installed (apt-get install docker-compose)")
    shutil.copy(ROOT / "docker-compose.yml", tmp_path)
    shutil.copytree(ROOT / "ops", tmp_path / "ops")
    env_text = (ROOT / ".env.example").read_text().replace("FIELD_ENCRYPTION_KEY=\n", "FIELD_ENCRYPTION_KEY=x\n")
    (tmp_path / ".env").write_text(env_text)
    for profile in ([], ["--profile", "monitoring"]):
        r = subprocess.run(
            ["docker-compose", *profile, "config"], cwd=tmp_path, capture_output=True, text=True, timeout=60
        )
        assert r.returncode == 0, r.stderr
    assert "prometheus" in r.stdout and "ops/healthcheck.py" in r.stdout
