"""Plugin URLs of the callbacks app, mounted under /plugin/<plugin_key>/ (see kakaoplugin.plugin_paths).
Kakao Sync's redirect URI is in callbacks.browser_urls, outside the plugin key."""

from django.urls import path

from kakaoplugin.plugin_paths import PATHS

from . import apis

urlpatterns: list = [
    path(PATHS["callback_profile"], apis.callback_profile, name="callback_profile"),
    path(PATHS["callback_location"], apis.callback_location, name="callback_location"),
    path(PATHS["callback_secure_image"], apis.callback_secure_image, name="callback_secure_image"),
]
