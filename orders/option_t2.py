"""Option T2 (CONTRACTS section 5): ``POST /plugin/<key>/option``.

Catalog validates the selection against the stored tree and prices it; the orders service
``order_sheet_create_from_choices`` (shared with the merchant API) turns it into an order sheet, and
this view answers its unguessable id.  (Option T1, the tree, is ``catalog.apis``; the payment
plugin's T1–T4 are ``orders.apis`` over ``orders.payments``.)
"""

from __future__ import annotations

from rest_framework.response import Response

from catalog.selection import SelectionError
from kakaoplugin.envelope import BadRequest, PluginError, success_body
from kakaoplugin.selectors import customer_is_blocked
from kakaoplugin.views import PluginAPIView

from .sheets import order_sheet_create_from_choices

# Option T2 failures are status 400 envelopes saying what was wrong (CONTRACTS section 0).
OPTION_REFUSED = 400


class OptionT2Api(PluginAPIView):
    """Option T2: validate the buyer's choices and store them as an order sheet; answers its id."""

    def post(self, request, plugin_key):
        body = self.body()
        if customer_is_blocked(kakao_app=self.kakao_app, app_user_id=self.kakao.app_user_id):
            raise PluginError(OPTION_REFUSED, "사용이 제한된 사용자입니다 (this user is restricted)")
        try:
            sheet = order_sheet_create_from_choices(
                kakao_app=self.kakao_app,
                choices=body,
                app_user_id=self.kakao.app_user_id,
                relay_id=self.kakao.relay_id,
            )
        except SelectionError as exc:
            if exc.malformed:
                raise BadRequest(exc.message) from None
            raise PluginError(OPTION_REFUSED, exc.message) from None
        return Response(success_body(sheet.id))
