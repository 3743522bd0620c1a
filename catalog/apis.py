"""Option T1 (CONTRACTS section 5): ``GET /plugin/<key>/options?id=<product id>``.

A plain Django view, since this is a hot path: a warm answer is the cached bytes (one cache round
trip, no database query: the gate keeps the Kakao app per process); a cold one is five queries
whatever the tree's size (:func:`catalog.selectors.tree_load`).
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.views.decorators.http import require_GET

from kakaoplugin.envelope import JSON_CONTENT_TYPE, fail

from .hot_reads import option_t1_body_cached
from .tree import LEN


@require_GET
def option_tree(request: HttpRequest, plugin_key: str) -> HttpResponse:
    code = request.GET.get("id", "")
    if not code:
        return fail(400, "필수 항목이 없습니다: id (missing product id)", http_status=400)
    livemode = request.kakao_app.livemode  # a test app's T1 shows the test stock its orders use
    body = option_t1_body_cached(code, livemode=livemode) if len(code) <= LEN["product_id"] else None
    if body is None:
        return fail(404, f"상품을 찾을 수 없습니다: {code[:100]} (unknown product)", http_status=404)
    return HttpResponse(body, content_type=JSON_CONTENT_TYPE)
