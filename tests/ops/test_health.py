"""/healthz and /readyz, the production settings checks (check --deploy, missing secrets), a real
worker on the test database."""

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.urls("tests.support.plugin_urls")


def test_healthz(client):
    r = client.get("/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok"}


@pytest.mark.django_db
def test_readyz_checks_database_and_broker(client):
    r = client.get("/readyz")
    assert r.status_code == 200, r.content
    checks = r.json()["checks"]  # the worker's heartbeat: tests/ops/test_readiness.py
    assert checks["database"]["ok"] and checks["broker"]["ok"] and checks["cache"]["ok"]


def test_check_deploy_is_clean_with_production_settings(tmp_path):
    from cryptography.fernet import Fernet

    env = {
        k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "CACHE_URL")
    } | {
        "DEBUG": "false",
        "SECRET_KEY": "prod-" + "k3y!" * 16,
        "FIELD_ENCRYPTION_KEY": Fernet.generate_key().decode(),
        "ALLOWED_HOSTS": "shop.example.com",
        "DATABASE_URL": f"sqlite:///{tmp_path}/prod.sqlite3",
        "REDIS_URL": "redis://127.0.0.1:6379/0",
        "VAR_DIR": str(tmp_path),
    }
    r = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        env=env, capture_output=True, text=True, cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))),
    )  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    assert "no issues" in r.stdout


def test_production_refuses_missing_secrets(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("SECRET_KEY", "FIELD_ENCRYPTION_KEY")} | {
        "DEBUG": "false",
        "VAR_DIR": str(tmp_path),
    }
    r = subprocess.run(
        [sys.executable, "manage.py", "check"], env=env, capture_output=True, text=True,
        cwd=os.path.dirname(os.path.dirname(os.path.dirname(__file__))),
    )  # fmt: skip
    assert r.returncode != 0 and "SECRET_KEY must be set" in r.stderr


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_real_worker_runs_tasks_against_the_test_database(celery_worker):
    from celery import current_app

    assert celery_worker.poll() is None
    replies = current_app.control.inspect(timeout=2).registered() or {}
    assert replies, "the worker answered no inspect call"
