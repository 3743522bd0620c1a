"""Encrypted model fields (Fernet, keys from settings.FIELD_ENCRYPTION_KEY).

The value in Python is a :class:`Secret`: a ``str`` whose ``repr`` is masked, so a secret does not
leak through ``repr(obj.field)``, a debug page, or a log of a model's ``__dict__``.
"""

from __future__ import annotations

from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models

PREFIX = "fernet:"


class Secret(str):
    __slots__ = ()

    def __repr__(self) -> str:
        return "Secret('" + mask(self) + "')"

    def __deepcopy__(self, memo):
        return self


def mask(value: str | None) -> str:
    """``••••1234`` for a set secret, ``""`` for an unset one."""
    if not value:
        return ""
    return "••••" + (value[-4:] if len(value) >= 12 else "")


@lru_cache(maxsize=4)
def key_ring(keys: str) -> MultiFernet:
    """Every key of a comma-separated list, newest first: the first encrypts, all decrypt."""
    try:
        return MultiFernet([Fernet(k.strip().encode()) for k in keys.split(",") if k.strip()])
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEY is not a valid Fernet key list") from exc


def encrypt(value: str) -> str:
    return PREFIX + key_ring(settings.FIELD_ENCRYPTION_KEY).encrypt(value.encode()).decode()


def decrypt(stored: str) -> str:
    if not stored.startswith(PREFIX):
        raise ValueError("stored value is not encrypted")
    try:
        return key_ring(settings.FIELD_ENCRYPTION_KEY).decrypt(stored[len(PREFIX) :].encode()).decode()
    except InvalidToken as exc:
        raise ImproperlyConfigured("cannot decrypt a stored secret: wrong FIELD_ENCRYPTION_KEY") from exc


class EncryptedTextField(models.TextField):
    """A text column holding Fernet ciphertext; Python sees a :class:`Secret` (or ``""``)."""

    def from_db_value(self, value, expression, connection):
        if value is None or value == "":
            return Secret("") if value == "" else None
        return Secret(decrypt(value))

    def to_python(self, value):
        if value is None or isinstance(value, Secret):
            return value
        return Secret(value)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return encrypt(str(value))
