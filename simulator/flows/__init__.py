"""The building blocks: what Kakao's servers, KakaoPay and the buyer do, step by step, over HTTP.

Each function takes the channels it talks through (``kakao``: Kakao's servers calling ours and
KakaoPay; ``browser``: the buyer's browser following redirects) and raises
:class:`~simulator.http.ScenarioFailed` (or :class:`Refused`, a contract refusal Kakao would show
the buyer) when an answer is not what Kakao expects.  The steps the flash sale drives on asyncio
(option T1, option T2, the payment) are written once as steps (:mod:`simulator.steps`):
``option_lookup_steps``, ``option_select_steps``, ``pay_steps``.

By sub-domain: :mod:`.buyer` (the buyer, a refusal), :mod:`.kakaosync`, :mod:`.option_plugin`
(option T1/T2, the merchant's order sheet for 9.2.3), :mod:`.payment` (one-click payment, the
check at the fake), :mod:`.callbacks` (OTP callbacks), :mod:`.chatbot` (Open Builder skills).
"""

from .buyer import ADDRESS, Buyer, Refused
from .callbacks import otp_callback, wait_for_fake_calls
from .chatbot import card_button, chatbot_skill, skill_cards, skill_texts
from .kakaosync import CONTINUE_URL, kakao_sync_launch, kakao_sync_signup
from .option_plugin import (
    LAUNCH_LINK,
    launch_link_oneclick_id,
    option_lookup,
    option_lookup_steps,
    option_plugin,
    option_select,
    option_select_steps,
    order_sheet_for_payment_only,
)
from .payment import APPROVAL_RELAY, READY_FIELDS, Payment, _unwrap_relay, pay, pay_steps, verify_charged_once

__all__ = [
    "ADDRESS", "APPROVAL_RELAY", "CONTINUE_URL", "LAUNCH_LINK", "READY_FIELDS", "Buyer", "Payment", "Refused",
    "_unwrap_relay", "card_button", "chatbot_skill", "kakao_sync_launch", "kakao_sync_signup",
    "launch_link_oneclick_id", "option_lookup", "option_lookup_steps", "option_plugin", "option_select",
    "option_select_steps", "order_sheet_for_payment_only", "otp_callback", "pay", "pay_steps", "skill_cards",
    "skill_texts", "verify_charged_once", "wait_for_fake_calls",
]  # fmt: skip
