"""Fixtures of the simulator tests."""

from tests.support.simulator import shop, tasks  # noqa: F401 (the demo shop on a live server)
