"""Plugin launch links (``kakaotalk://bizplugin?...``) a merchant's chatbot or shop sends buyers."""

from __future__ import annotations

from urllib.parse import urlencode

from kakaoplugin.envelope import PluginError


def bizplugin_link(*, plugin_id: str, **params: str) -> str:
    if not plugin_id:
        raise PluginError(409, "the Kakao app has no plugin id for this plugin: set it in the admin", http_status=409)
    return "kakaotalk://bizplugin?" + urlencode({"plugin_id": plugin_id, **params})
