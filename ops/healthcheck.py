"""Container healthcheck: ``python ops/healthcheck.py [path] [--port N]`` exits 0 when the local web
process answers 200 (default ``/readyz``).

``/healthz``, ``/readyz`` and ``/metrics`` are answered before Django's Host and https checks
(kakaoplugin.health), so the internal address works with production settings; any other path is
asked with the first of ``ALLOWED_HOSTS`` as its ``Host`` (a ``.example.com`` wildcard becomes
``example.com``). Standard library only: it runs without loading Django.
"""

from __future__ import annotations

import argparse
import http.client
import os
import sys


def host_header() -> str:
    hosts = [h.strip() for h in os.environ.get("ALLOWED_HOSTS", "").split(",") if h.strip()]
    for host in hosts:
        if host != "*":
            return host.lstrip(".")
    return "localhost"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("path", nargs="?", default="/readyz")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    parser.add_argument("--timeout", type=float, default=3.0)
    args = parser.parse_args()
    conn = http.client.HTTPConnection("127.0.0.1", args.port, timeout=args.timeout)
    try:
        conn.request("GET", args.path, headers={"Host": host_header()})
        status = conn.getresponse().status
    except OSError as exc:
        print(f"unhealthy: {exc.__class__.__name__}: {exc}", file=sys.stderr)
        return 1
    if status != 200:
        print(f"unhealthy: {args.path} answered {status}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
