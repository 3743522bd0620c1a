"""Kakao Sync's plugin redirect URI, mounted at /sync/ (a browser follows it; no plugin key).
``<ref>`` is the Kakao app's id: the URI is fixed per app, as Kakao Developers registers it."""

from django.urls import path

from . import apis

urlpatterns: list = [
    path("<str:ref>/redirect", apis.kakaosync_redirect, name="kakaosync_redirect"),
]
