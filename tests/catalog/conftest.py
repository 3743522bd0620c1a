"""Fixtures of the catalog and option plugin tests."""

from tests.support.options import guide  # noqa: F401 (the guide's tree imported: option T2's fixture)
