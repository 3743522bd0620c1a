"""Bench-only URLconf: the real URLs plus a minimal Django view answering T1's exact bytes from
memory (the baseline option T1 is compared with).  Never mounted in production."""

from __future__ import annotations

from django.http import HttpResponse
from django.urls import path

from catalog.selectors import t1_body, tree_load
from kakaoplugin.envelope import JSON_CONTENT_TYPE
from kakaoplugin.urls import urlpatterns as real_patterns

_bodies: dict[str, bytes] = {}


def baseline(request):
    code = request.GET["id"]
    body = _bodies.get(code)
    if body is None:
        body = _bodies[code] = t1_body(tree_load(code=code))
    return HttpResponse(body, content_type=JSON_CONTENT_TYPE)


urlpatterns = [path("bench/baseline", baseline), *real_patterns]
