"""The two Celery brokers: the embedded default's (a folder, no server) and Redis (production).

Embedded default: kombu's filesystem transport, a message per file in ``VAR_DIR/broker/queue``.
Chosen over kombu's SQLAlchemy/SQLite transport after measuring both (README, "Tasks and
schedules"): publishing is ~5x cheaper (1.9 vs 9.1 ms a message, 4 publishing threads), a consumer
picks a message up in 0.6 vs 6 ms, a consumed message is deleted (the SQLAlchemy transport keeps
every delivered row for ever), it takes no lock on a SQLite file the web process and the worker
already write to, and it needs no extra package.  A consumer claims a message by renaming it
(atomic: two consumers never get the same one); one change here: a message is written under a
temporary name and renamed into the queue, so a consumer never reads a half-written file.

Unacknowledged messages (``acks_late``: tasks running, retries waiting for their countdown) live in
the worker's memory and are written back to the queue when the worker stops (Ctrl-C, SIGTERM):
``bin/run`` again finds them.  A worker killed with -9 loses them; the reconciler and the sweeps
(beat, every minute) pick up whatever a lost message left undone, as they do with Redis.

Redis: kombu's transport, with one fix (issue 12, item 3).  When the connection to Redis is lost
while the worker holds unacknowledged messages (a task waiting for its retry countdown is one),
Celery closes the broker connection: kombu drops the transport's connection info first, then the
channel tries to write those messages back and dies building a Redis client from that missing info
(``AttributeError: 'NoneType' object has no attribute 'hostname'`` in ``_connparams``).  Celery
counts an AttributeError as unrecoverable and the worker exits.  Upstream: celery/kombu#970 (the
same chain at a warm shutdown) and #582 (the same missing connection info on close).  Here the
channel keeps its own reference to the connection info, so the write-back is a normal Redis call:
it succeeds when Redis is back, or fails with a connection error Celery recovers from (the worker
reconnects; the messages are still in Redis' unacked index and come back after the visibility
timeout, and the reconciler settles their orders sooner).
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from time import monotonic

from kombu.transport import filesystem, redis
from kombu.utils.encoding import str_to_bytes
from kombu.utils.json import dumps

# --- embedded default: a folder --------------------------------------------------------------


def embedded_transport_options(folder: Path) -> dict:
    """Where the embedded broker keeps its messages (one folder: web, worker and beat share it)."""
    queue, processed, control = folder / "queue", folder / "processed", folder / "control"
    for path in (queue, processed, control):
        path.mkdir(parents=True, exist_ok=True)
    return {
        "data_folder_in": str(queue),
        "data_folder_out": str(queue),
        # same file system as the queue: claiming a message is one rename
        "processed_folder": str(processed),
        "store_processed": False,
        "control_folder": str(control),
        "polling_interval": 0.1,
    }


def forget_control_messages(folder: Path) -> int:
    """Remove remote-control leftovers of workers that are gone: their pidbox bindings (a broadcast,
    such as ``celery inspect ping``, would otherwise still write a file for each) and unread
    control messages and replies.  Task messages stay.  Run before the worker starts."""
    removed = 0
    for path in [*(folder / "control").glob("*"), *(folder / "queue").glob("*.pidbox.msg")]:
        path.unlink(missing_ok=True)
        removed += 1
    return removed


class FilesystemChannel(filesystem.Channel):
    def _put(self, queue, payload, **kwargs):
        name = f"{int(round(monotonic() * 1000))}_{uuid.uuid4()}.{queue}.msg"
        temporary = os.path.join(self.processed_folder, f".put-{name}")
        try:
            with open(temporary, "wb") as f:
                f.write(str_to_bytes(dumps(payload)))
            os.replace(temporary, os.path.join(self.data_folder_out, name))
        except OSError as exc:
            raise filesystem.ChannelError(f"Cannot add file {name!r} to directory") from exc


class FilesystemTransport(filesystem.Transport):
    Channel = FilesystemChannel
    driver_type = driver_name = "filesystem"


# --- Redis --------------------------------------------------------------------------------------


class RedisChannel(redis.Channel):
    def __init__(self, connection, *args, **kwargs):
        self._conninfo = connection.client  # kombu sets connection.client to None on close
        super().__init__(connection, *args, **kwargs)

    def _connparams(self, asynchronous=False):
        transport = self.connection
        if transport.client is None and self._conninfo is not None:
            transport.client = self._conninfo
            try:
                return super()._connparams(asynchronous=asynchronous)
            finally:
                transport.client = None
        return super()._connparams(asynchronous=asynchronous)


class RedisTransport(redis.Transport):
    Channel = RedisChannel
