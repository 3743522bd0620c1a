"""A small HTTP client for the fake's control endpoints (tests and the simulator use it)."""

from __future__ import annotations

from typing import Any

import requests


class FakeControl:
    def __init__(self, base_url: str):
        self.base_url = base_url.rstrip("/")

    def calls(self, op: str | None = None) -> list[dict[str, Any]]:
        r = requests.get(f"{self.base_url}/__fake__/calls", params={"op": op} if op else None, timeout=5)
        r.raise_for_status()
        return r.json()["calls"]

    def reset(self) -> None:
        requests.post(f"{self.base_url}/__fake__/reset", timeout=5).raise_for_status()

    def fault(self, op: str, kind: str, *, times: int = 1, match: dict | None = None, **extra: Any) -> None:
        body = {"op": op, "kind": kind, "times": times, "match": match or {}, **extra}
        requests.post(f"{self.base_url}/__fake__/faults", json=body, timeout=5).raise_for_status()

    def state(self) -> dict[str, Any]:
        r = requests.get(f"{self.base_url}/__fake__/state", timeout=5)
        r.raise_for_status()
        return r.json()
