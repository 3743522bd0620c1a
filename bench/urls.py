"""Bench-only URLconf: the real URLs plus the baseline, a minimal Django view answering the same
bytes T4 answers for an order still waiting."""

from django.http import HttpResponse
from django.urls import path

from kakaoplugin.urls import urlpatterns as real_patterns

WAITING = b'{"status":200,"data":{"order_status":"W"}}'


def minimal(request):
    return HttpResponse(WAITING, content_type="application/json; charset=utf-8")


urlpatterns = [path("bench/minimal", minimal), *real_patterns]
