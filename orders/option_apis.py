"""Option T2 (CONTRACTS section 5): ``POST /plugin/<key>/option``.

Catalog validates the selection against the stored tree and prices it; this view turns the result
into an order sheet (``orders.services.order_sheet_create``) and answers its unguessable id.
"""

from __future__ import annotations

from rest_framework.response import Response

from catalog.selection import Selection, SelectionError, selection_validate
from kakaoplugin.envelope import BadRequest, PluginError, success_body
from kakaoplugin.selectors import customer_is_blocked
from kakaoplugin.views import PluginAPIView

from .services import SheetDraft, SheetLine, order_sheet_create

# Option T2 failures are status 400 envelopes saying what was wrong (CONTRACTS section 0).
OPTION_REFUSED = 400


def sheet_draft(selection: Selection) -> SheetDraft:
    return SheetDraft(
        product_pk=selection.product_pk,
        product_code=selection.product_code,
        product_name=selection.product_name,
        unit_price=selection.unit_price,
        quantity=selection.quantity,
        total_amount=selection.total_amount,
        tax_free_amount=selection.tax_free_amount,
        use_shipping=selection.use_shipping,
        product_url=selection.product_url,
        lines=[
            SheetLine(
                group_id=line.group_id,
                group_name=line.group_name,
                group_type=line.group_type,
                sub_group_id=line.sub_group_id,
                option_id=line.option_id,
                option_value=line.option_value,
                option_pk=line.option_pk,
                add_price=line.add_price,
                quantity=line.quantity,
                amount=line.amount,
                extra=line.extra,
                text=line.text,
            )
            for line in selection.lines
        ],
    )


class OptionSelect(PluginAPIView):
    def post(self, request, plugin_key):
        body = self.body()
        if customer_is_blocked(kakao_app=self.kakao_app, app_user_id=self.kakao.app_user_id):
            raise PluginError(OPTION_REFUSED, "사용이 제한된 사용자입니다 (this user is restricted)")
        try:
            selection = selection_validate(payload=body)
        except SelectionError as exc:
            if exc.malformed:
                raise BadRequest(exc.message) from None
            raise PluginError(OPTION_REFUSED, exc.message) from None
        sheet = order_sheet_create(
            kakao_app=self.kakao_app,
            draft=sheet_draft(selection),
            app_user_id=self.kakao.app_user_id,
            relay_id=self.kakao.relay_id,
        )
        return Response(success_body(sheet.id))
