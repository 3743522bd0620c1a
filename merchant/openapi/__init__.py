"""OpenAPI for the whole project: the merchant API generated from its serializers, the plugin
contracts from a hand-written fragment (``plugin.yaml``, CONTRACTS.md sections 0-6).

The plugin views are plain Django views or DRF views without serializers (they answer Kakao's
envelope, parsed by hand on hot paths), so generation cannot describe them: they are left out of
it (:func:`exclude_plugin_views`) and the fragment is merged in (:func:`merge_plugin_contracts`).
Both hooks are named in ``SPECTACULAR_SETTINGS``.
"""

from __future__ import annotations

import copy
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from drf_spectacular.extensions import OpenApiAuthenticationExtension

PLUGIN_PREFIX = "/plugin/"
# The buyer's browser's endpoints (kakaoplugin.plugin_paths.BROWSER_PATHS), described by the fragment too.
BROWSER_PREFIXES = ("/pay/", "/sync/")
FRAGMENT = Path(__file__).with_name("plugin.yaml")


@cache
def plugin_fragment() -> dict[str, Any]:
    with FRAGMENT.open(encoding="utf-8") as f:
        return yaml.safe_load(f)


def exclude_plugin_views(endpoints: list, **kwargs: Any) -> list:
    """Preprocessing hook: the plugin paths are described by the fragment, not generated."""
    return [endpoint for endpoint in endpoints if not endpoint[0].startswith((PLUGIN_PREFIX, *BROWSER_PREFIXES))]


def merge_plugin_contracts(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    """Postprocessing hook: the plugin paths, their components and tags, before the merchant API."""
    fragment = copy.deepcopy(plugin_fragment())
    for item in fragment["paths"].values():
        # drf-spectacular expects operations only under a path: move path-level parameters down.
        shared = item.pop("parameters", [])
        for operation in item.values():
            operation["parameters"] = [*shared, *operation.get("parameters", [])]
    result["paths"] = {**fragment["paths"], **result.get("paths", {})}
    components = result.setdefault("components", {})
    for section, entries in fragment.get("components", {}).items():
        target = components.setdefault(section, {})
        clash = set(target) & set(entries)
        if clash:
            raise ValueError(f"plugin.yaml components/{section} clash with generated ones: {sorted(clash)}")
        target.update(entries)
    result["tags"] = [*fragment.get("tags", []), *result.get("tags", [])]
    return result


class MerchantKeyScheme(OpenApiAuthenticationExtension):
    target_class = "merchant.authentication.MerchantKeyAuthentication"
    name = "MerchantApiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "kp_<prefix>_<secret>",
            "description": "A merchant API key (admin: Merchant API keys), scoped to one Kakao app.",
        }
