"""The T4 status cache on Redis (orders.status_cache): each protocol step is one atomic script.

Keys (with the cache's ``KEY_PREFIX`` and version, as Django's cache makes them):
``t4:<partner_order_id>`` → ``<version>:<JSON [app id, W/S/F/C, owner, message]>`` (expires
``T4_STATUS_CACHE_SECONDS`` after the database read it holds) and ``t4v:<partner_order_id>`` → the
version counter (a day).
"""

from __future__ import annotations

from kakaoplugin.fast_reads import mget

from .status_cache import _COUNTER, _COUNTER_SECONDS, _ENTRY

# KEYS: counter, entry pairs. Bump each counter; a counter lost (evicted) while its entry lives
# starts again above the entry's version, so the next write can replace it. Returns the new
# version and whether an entry is there (1/0) for each order.
_BUMP = """
local out = {}
for i = 1, #KEYS, 2 do
  local n = redis.call('INCR', KEYS[i])
  local e = redis.call('GET', KEYS[i + 1])
  if e then
    local ev = tonumber(string.match(e, '^(%d+):'))
    if ev and ev >= n then
      n = ev + 1
      redis.call('SET', KEYS[i], n)
    end
  end
  redis.call('PEXPIRE', KEYS[i], ARGV[1])
  out[#out + 1] = n
  out[#out + 1] = e and 1 or 0
end
return out
"""

# KEYS: entry, counter. ARGV: version, payload ('' = the order is gone), milliseconds to live.
# Written only while the counter still holds this version (nobody bumped it since this writer's
# read began) and no entry of this version or newer is there.
_PUT = """
local v = tonumber(ARGV[1])
if tonumber(redis.call('GET', KEYS[2]) or '0') ~= v then return 0 end
local e = redis.call('GET', KEYS[1])
if e then
  local ev = tonumber(string.match(e, '^(%d+):'))
  if ev and ev >= v then return 0 end
end
if ARGV[2] == '' then
  redis.call('DEL', KEYS[1])
else
  redis.call('SET', KEYS[1], ARGV[1] .. ':' .. ARGV[2], 'PX', ARGV[3])
end
return 1
"""


class RedisStore:
    def __init__(self, backend):
        self.backend = backend
        self.client = backend._cache.get_client(None, write=True)  # noqa: SLF001 (Django's redis-py client)
        self.bump_script = self.client.register_script(_BUMP)
        self.put_script = self.client.register_script(_PUT)

    def _keys(self, partner_order_id: str) -> tuple[str, str]:
        make = self.backend.make_key
        return make(_ENTRY + partner_order_id), make(_COUNTER + partner_order_id)

    def read(self, partner_order_id: str) -> tuple[bytes | None, int]:
        """(the entry's JSON or None, the counter): one round trip.

        The hottest call of the system: on the calling thread's own connection
        (kakaoplugin.fast_reads); an error is raised and T4 then reads the database."""
        entry, counter = mget(self.client, list(self._keys(partner_order_id)))
        version = int(counter) if counter else 0
        if entry is None:
            return None, version
        head, _, payload = entry.partition(b":")
        return (payload, version) if head.isdigit() and payload else (None, version)

    def bump(self, partner_order_ids: list[str]) -> list[tuple[int, bool]]:
        keys: list[str] = []
        for p in partner_order_ids:
            entry, counter = self._keys(p)
            keys += [counter, entry]
        out = self.bump_script(keys=keys, args=[_COUNTER_SECONDS * 1000])
        return [(int(out[i]), bool(out[i + 1])) for i in range(0, len(out), 2)]

    def put(self, items) -> None:
        pipe = self.client.pipeline(transaction=False)
        for p, version, payload, left_ms in items:
            self.put_script(keys=list(self._keys(p)), args=[version, payload or b"", left_ms], client=pipe)
        pipe.execute()
