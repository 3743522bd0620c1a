"""One-statement inserts for the rows every payment step writes (payment events, webhook events).

The ORM's way of "insert unless this idempotency key is there already" is a savepoint, the INSERT,
and the savepoint's release or rollback on ``IntegrityError``: three round trips, and the INSERT
compiled again each time. :func:`insert_unless_exists` is one ``INSERT … ON CONFLICT (<unique
column>) DO NOTHING RETURNING id`` whose text is built once per model: a replay changes nothing and
leaves the caller's transaction usable, as the savepoint did. PostgreSQL only; elsewhere the ORM.
"""

from __future__ import annotations

from django.db import IntegrityError, connection, models, transaction
from django.utils import timezone

_SQL: dict[tuple[type, str], tuple[str, list[models.Field]]] = {}


def _statement(model: type[models.Model], unique: str) -> tuple[str, list[models.Field]]:
    key = (model, unique)
    if key not in _SQL:
        meta = model._meta
        # every column but a generated primary key (an event's id is ours: it is inserted)
        fields = [f for f in meta.concrete_fields if not (f.primary_key and f.db_returning)]
        quote = connection.ops.quote_name
        columns = ", ".join(quote(f.column) for f in fields)
        marks = ", ".join(["%s"] * len(fields))
        conflict = quote(meta.get_field(unique).column)
        _SQL[key] = (
            f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES ({marks}) "  # noqa: S608
            f"ON CONFLICT ({conflict}) DO NOTHING RETURNING {quote(meta.pk.column)}",
            fields,
        )
    return _SQL[key]


def insert_unless_exists(instance: models.Model, *, unique: str) -> bool:
    """Insert ``instance`` (``auto_now`` fields left unset get the time; no other ``pre_save`` runs,
    no signal is sent) unless a row with the same ``unique`` column exists: True and ``instance.pk``
    set when inserted, False for a replay."""
    if connection.vendor != "postgresql":
        try:
            with transaction.atomic():
                instance.save(force_insert=True)
        except IntegrityError:
            return False
        return True
    sql, fields = _statement(type(instance), unique)
    for f in fields:  # what the ORM's pre_save would have set
        if (getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False)) and getattr(instance, f.attname) is None:
            setattr(instance, f.attname, timezone.now())
    values = [f.get_db_prep_save(getattr(instance, f.attname), connection) for f in fields]
    # (a failure inside the caller's transaction marks it for rollback, as the ORM's insert does)
    with transaction.mark_for_rollback_on_error(), connection.cursor() as cursor:
        cursor.execute(sql, values)
        row = cursor.fetchone()
    if row is None:
        return False
    instance.pk = row[0]
    instance._state.adding = False
    instance._state.db = connection.alias
    return True
