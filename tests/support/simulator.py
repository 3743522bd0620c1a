"""The simulator's shop (fixtures) and the ``kakao_simulate`` command run against a live server."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from catalog.models import Product
from catalog.services import option_tree_import
from merchant.models import ChatbotSkills

DEMO_PRODUCT = Path(__file__).resolve().parents[2] / "catalog" / "fixtures" / "demo_product.json"


PAY_PLUGIN = "sim-payment-plugin"


@pytest.fixture
def tasks(request, settings) -> str:
    """Where the server's tasks run: a real worker (on Redis, or on the embedded broker)."""
    request.getfixturevalue("celery_worker")
    return "worker"


@pytest.fixture
def shop(kakao_app, live_server, fake_kakao, tasks, settings, tmp_path):
    """The demo product on sale, Kakao's URLs on the live server, the fake reset, and a payment
    plugin id (the merchant API's launch links need one)."""
    settings.PUBLIC_BASE_URL = live_server.url
    kakao_app.payment_plugin_id = PAY_PLUGIN
    kakao_app.save(update_fields=["payment_plugin_id"])
    settings.MEDIA_ROOT = tmp_path / "media"
    option_tree_import(
        data=json.loads(DEMO_PRODUCT.read_text(encoding="utf-8")),
        product_settings={"on_sale": True, "kind": "commerce", "tax_type": "taxable", "needs_shipping": True},
    )
    # the chatbot scenario: skills for this app and a product bought at once from its card
    Product.objects.create(code="CHAT-MUG", name="라이언 머그컵", price=12000, stock=100, max_quantity=5)
    ChatbotSkills.objects.create(kakao_app=kakao_app, order_status_block_id="block-status")
    return kakao_app


def simulate(shop, live_server, fake_kakao, *args: str, **options) -> str:
    out = io.StringIO()
    try:
        call_command(
            "kakao_simulate",
            *args,
            app=shop.name,
            base=live_server.url,
            fake=fake_kakao.url,
            stdout=out,
            **options,
        )
    except CommandError as exc:
        exc.output = out.getvalue()
        raise
    return out.getvalue()
