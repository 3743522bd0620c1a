"""The merchant API's keys and idempotency keys; chatbot skills' settings per Kakao app
(merchant.skills): which products, what the cards say."""

from __future__ import annotations

import secrets

from django.db import models
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from catalog.models import Product
from kakaoplugin.models import KakaoApp


def new_skill_key() -> str:
    return secrets.token_urlsafe(32)


class ChatbotSkills(models.Model):
    """Kakao i Open Builder skills of one Kakao app, reached at ``/skill/<skill_key>/<skill>``.

    The skill key is a secret of its own (not the plugin key): it authorises Open Builder's calls
    only, and is rotated on its own."""

    class Source(models.TextChoices):
        ALL = "all", _("all products on sale")
        CATEGORY = "category", _("a category")
        LIST = "list", _("the products listed")

    kakao_app = models.OneToOneField(KakaoApp, verbose_name=_("kakao app"), on_delete=models.CASCADE, related_name="chatbot_skills")
    enabled = models.BooleanField(_("enabled"), default=True)
    skill_key = models.CharField(_("skill key"), max_length=64, unique=True, default=new_skill_key, editable=False)
    skill_key_rotated_at = models.DateTimeField(_("skill key rotated at"), null=True, blank=True, editable=False)

    source = models.CharField(_("products shown"), max_length=10, choices=Source.choices, default=Source.ALL)
    category = models.CharField(_("category"), max_length=100, blank=True, help_text=_("with “a category”: the products' category"))
    products = models.ManyToManyField(Product, verbose_name=_("products"), blank=True, help_text=_("with “the products listed”, in code order"))
    max_products = models.PositiveSmallIntegerField(
        _("max products"),
        default=10, help_text=_("cards in the product carousel (Open Builder shows at most 10)")
    )

    products_intro = models.CharField(_("products intro"), max_length=400, default="지금 판매 중인 상품이에요.", blank=True)
    option_button_label = models.CharField(_("option button label"), max_length=14, default="옵션 선택")
    buy_now_button_label = models.CharField(_("buy now button label"), max_length=14, default="바로 결제")
    pay_button_label = models.CharField(_("pay button label"), max_length=14, default="원클릭 결제하기")
    order_detail_button_label = models.CharField(_("order detail button label"), max_length=14, default="주문 상세")
    order_status_block_id = models.CharField(
        _("order status block id"), max_length=64, blank=True,
        help_text=_("Open Builder block that calls the order-status skill: the “주문 상세” button opens it"),
    )  # fmt: skip
    not_ready_text = models.CharField(
        _("not ready text"),
        max_length=400, default="지금은 채팅으로 주문할 수 없어요. 잠시 후 다시 시도해 주세요.",
        help_text=_("answered when a plugin id the skill needs is not set"),
    )  # fmt: skip
    no_orders_text = models.CharField(_("no orders text"), max_length=400, default="아직 주문하신 내역이 없어요.")
    needs_account_text = models.CharField(
        _("needs account text"),
        max_length=400, default="카카오 계정으로 연결된 주문만 볼 수 있어요. 먼저 회원가입(카카오싱크)을 해 주세요.",
    )  # fmt: skip
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("chatbot skills")
        verbose_name_plural = _("chatbot skills")
        permissions = [("view_skill_urls", "Can see the chatbot skill URLs (they carry the skill key)")]

    def __str__(self) -> str:
        return f"chatbot skills of {self.kakao_app.name}"

    def warnings(self) -> list[str]:
        """What keeps a skill from working, for staff (the skills answer a polite text instead)."""
        app = self.kakao_app
        found = []
        if not app.option_plugin_id:
            found.append(gettext("The option plugin id is not set: the products skill shows no “옵션 선택” button"))
        if not app.payment_plugin_id:
            found.append(gettext("The payment plugin id is not set: the pay skill answers the not-ready text, no “바로 결제”"))
        if not self.order_status_block_id:
            found.append(gettext("The order status block id is empty: paid orders get no “주문 상세” button"))
        if self.source == self.Source.CATEGORY and not self.category:
            found.append(gettext("“a category” is chosen but no category is set: the carousel is empty"))
        return found


class MerchantApiKey(models.Model):
    """A key for the merchant API (/api/v1/), scoped to one Kakao app; stored hashed.

    The key is ``kp_<prefix>_<secret>``: the prefix finds the row, the SHA-256 of the whole key is
    compared in constant time. A random 256-bit secret needs no slow hash.
    """

    class Scope(models.TextChoices):
        ORDERS = "orders", _("order sheets and orders (without shipping addresses)")
        SHIPPING = "orders:shipping", _("orders' shipping addresses (receiver name, phone, address)")
        MEMBERS = "members", _("members (without personal data)")
        PERSONAL = "members:personal", _("members' personal data")
        CATALOG = "catalog", _("products, option trees and stock (writes)")

    kakao_app = models.ForeignKey(KakaoApp, verbose_name=_("kakao app"), on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(_("name"), max_length=100, help_text=_("Who uses it, e.g. 'fulfilment system'"))
    prefix = models.CharField(_("prefix"), max_length=16, unique=True, editable=False)
    key_hash = models.CharField(_("key hash"), max_length=64, editable=False)
    scopes = models.JSONField(_("scopes"), default=list, blank=True)
    created_by = models.CharField(_("created by"), max_length=150, blank=True, editable=False)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("merchant API key")
        verbose_name_plural = _("merchant API keys")
        # the table it had in the kakaoplugin app, kept: the move (migrations merchant 0003,
        # kakaoplugin 0008) changed Django's state only, not a row
        db_table = "kakaoplugin_merchantapikey"

    def __str__(self) -> str:
        return f"{self.name} (kp_{self.prefix}_…)"

    @property
    def active(self) -> bool:
        return self.revoked_at is None


class IdempotencyKey(models.Model):
    """One ``Idempotency-Key`` of one API key: the request's fingerprint and, once answered, the
    answer, replayed for the same key and body for ``IDEMPOTENCY_KEY_HOURS`` (merchant.idempotency)."""

    api_key = models.ForeignKey(MerchantApiKey, verbose_name=_("api key"), on_delete=models.CASCADE, related_name="idempotency_keys")
    key = models.CharField(_("key"), max_length=255)
    fingerprint = models.CharField(_("fingerprint"), max_length=64, help_text=_("SHA-256 of method, path and body"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True, db_index=True)
    locked_until = models.DateTimeField(_("locked until"), null=True, blank=True, help_text=_("set while the first request runs"))
    response_status = models.PositiveSmallIntegerField(_("response status"), null=True, blank=True)
    response_content = models.TextField(_("response content"), blank=True, help_text=_("the answer's JSON, byte for byte"))

    class Meta:
        constraints = [models.UniqueConstraint(fields=["api_key", "key"], name="idempotency_key_unique")]
        verbose_name = _("idempotency key")
        verbose_name_plural = _("idempotency keys")

    def __str__(self) -> str:
        return f"{self.key} → {self.response_status or 'running'}"
