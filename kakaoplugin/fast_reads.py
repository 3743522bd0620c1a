"""Redis reads for the hot paths (payment T4's status, option T1's generation).

redis-py's ``Redis.get()`` spends most of its time outside the round trip: the pool checkout and
release (a lock each), the retry wrapper, a poll for pending data on the socket, command packing.
On the two hot reads that was a third of the request's CPU. :func:`mget` sends one ``MGET`` on a
connection of the calling thread's own, made by the client's pool (the same address, credentials,
database and TLS), and reads the answer with redis-py's parser. Any error drops that connection
(the next read opens another) and is raised: the callers fall back to their database read.
"""

from __future__ import annotations

import os
import threading

import redis

_local = threading.local()


def mget(client: redis.Redis, keys: list[str]) -> list[bytes | None]:
    connections = getattr(_local, "connections", None)
    if connections is None:
        connections = _local.connections = {}
    conn = connections.get(id(client))
    if conn is None or conn[0] is not client or conn[2] != os.getpid():  # (a fork must not share it)
        conn = connections[id(client)] = (client, client.connection_pool.make_connection(), os.getpid())
    encoded = [k.encode() for k in keys]
    packed = b"*%d\r\n$4\r\nMGET\r\n" % (len(keys) + 1) + b"".join(
        b"$%d\r\n%s\r\n" % (len(k), k) for k in encoded
    )
    try:
        conn[1].send_packed_command([packed], check_health=False)
        return conn[1].read_response()
    except BaseException:
        connections.pop(id(client), None)
        conn[1].disconnect()
        raise
