"""Re-encrypt every stored secret with the newest ``FIELD_ENCRYPTION_KEY``.

``FIELD_ENCRYPTION_KEY`` is a comma-separated list of Fernet keys, newest first: the first encrypts,
every key decrypts (:mod:`kakaoplugin.fields`). To rotate: put the new key first, deploy, run
``manage.py rotate_encryption_key``, then drop the old key from the list and deploy again.

The rotation finds every :class:`~kakaoplugin.fields.EncryptedTextField` of every installed model
(the shared layer names no app), reads the ciphertext as stored, and rewrites only the values the
newest key cannot already decrypt. It works in primary-key order, one committed batch at a time:
running it twice changes nothing the second time, and a run stopped half-way is finished by the
next one. Values are never decrypted into a log or an answer.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from cryptography.fernet import Fernet, InvalidToken
from django.apps import apps
from django.conf import settings
from django.db import connection, transaction

from .fields import PREFIX, EncryptedTextField, key_ring


@dataclass
class ColumnReport:
    model: str
    field: str
    rotated: int = 0
    current: int = 0

    def __str__(self) -> str:
        return f"{self.model}.{self.field}: {self.rotated} re-encrypted, {self.current} already under the newest key"


def encrypted_columns() -> Iterator[tuple[type, EncryptedTextField]]:
    for model in apps.get_models():
        if model._meta.proxy or not model._meta.managed:
            continue
        for field in model._meta.concrete_fields:
            if isinstance(field, EncryptedTextField):
                yield model, field


def _newest_key() -> Fernet:
    first = next(k.strip() for k in settings.FIELD_ENCRYPTION_KEY.split(",") if k.strip())
    return Fernet(first.encode())


def rotate_encryption_key(*, batch_size: int = 500, dry_run: bool = False) -> list[ColumnReport]:
    """Rewrite every stored secret not yet under the newest key; return what was done per column."""
    newest, every = _newest_key(), key_ring(settings.FIELD_ENCRYPTION_KEY)
    quote = connection.ops.quote_name
    reports = []
    for model, field in encrypted_columns():
        report = ColumnReport(model._meta.label, field.name)
        table, column, pk = quote(model._meta.db_table), quote(field.column), quote(model._meta.pk.column)
        last = None
        while True:
            with transaction.atomic(), connection.cursor() as cursor:
                after = "" if last is None else f" AND {pk} > %s"
                cursor.execute(
                    f"SELECT {pk}, {column} FROM {table} WHERE {column} LIKE %s{after} ORDER BY {pk} LIMIT %s",
                    [PREFIX + "%", *([] if last is None else [last]), batch_size],
                )
                rows = cursor.fetchall()
                if not rows:
                    break
                for row_pk, stored in rows:
                    token = stored[len(PREFIX) :].encode()
                    try:
                        newest.decrypt(token)
                    except InvalidToken:
                        pass
                    else:
                        report.current += 1
                        continue
                    rotated = PREFIX + every.rotate(token).decode()  # raises if no key decrypts it
                    report.rotated += 1
                    if not dry_run:
                        cursor.execute(f"UPDATE {table} SET {column} = %s WHERE {pk} = %s", [rotated, row_pk])
                last = rows[-1][0]
        reports.append(report)
    return reports
