"""Rotation of FIELD_ENCRYPTION_KEY: new key first, the command re-encrypts, the old key can go."""

from __future__ import annotations

from io import StringIO

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.core.management import CommandError, call_command
from django.db import connection

from kakaoplugin.models import KakaoApp

OLD, NEW = Fernet.generate_key().decode(), Fernet.generate_key().decode()


def _stored(app: KakaoApp, column: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM kakaoplugin_kakaoapp WHERE id = %s", [app.pk])
        return cursor.fetchone()[0]


def _run(*args) -> str:
    out = StringIO()
    call_command("rotate_encryption_key", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_rotation_reencrypts_with_the_newest_key_and_is_idempotent(settings):
    settings.FIELD_ENCRYPTION_KEY = OLD
    apps = [
        KakaoApp.objects.create(name=f"rot-{i}", kakaopay_admin_key=f"admin-key-{i:020d}", cid_secret=f"cs-{i:020d}")
        for i in range(3)
    ]
    before = _stored(apps[0], "kakaopay_admin_key")
    Fernet(OLD.encode()).decrypt(before.removeprefix("fernet:").encode())

    settings.FIELD_ENCRYPTION_KEY = f"{NEW},{OLD}"
    assert "would re-encrypt" in _run("--dry-run")
    assert _stored(apps[0], "kakaopay_admin_key") == before  # a dry run writes nothing

    out = _run("--batch-size", "2")  # several committed batches
    assert "kakaoplugin.KakaoApp.kakaopay_admin_key: 3 re-encrypted" in out
    assert "admin-key-" not in out  # values never printed
    for app in apps:
        stored = _stored(app, "kakaopay_admin_key")
        assert Fernet(NEW.encode()).decrypt(stored.removeprefix("fernet:").encode())
        with pytest.raises(InvalidToken):
            Fernet(OLD.encode()).decrypt(stored.removeprefix("fernet:").encode())

    again = _run()
    assert "re-encrypted 0 value(s)" in again  # idempotent: a second run changes nothing
    assert "3 already under the newest key" in again

    settings.FIELD_ENCRYPTION_KEY = NEW  # the old key dropped: every secret still reads
    for i, app in enumerate(apps):
        fresh = KakaoApp.objects.get(pk=app.pk)
        assert fresh.kakaopay_admin_key == f"admin-key-{i:020d}"
        assert fresh.cid_secret == f"cs-{i:020d}"


@pytest.mark.django_db
def test_rotation_without_the_old_key_refuses_and_changes_nothing(settings):
    settings.FIELD_ENCRYPTION_KEY = OLD
    app = KakaoApp.objects.create(name="rot-lost", kakaopay_admin_key="admin-key-00000000000000")
    before = _stored(app, "kakaopay_admin_key")
    settings.FIELD_ENCRYPTION_KEY = NEW  # the old key forgotten too early
    with pytest.raises(CommandError, match="keep the old key"):
        _run()
    assert _stored(app, "kakaopay_admin_key") == before
