"""Products and their option trees (CONTRACTS section 5), and stock holds.

The tree mirrors option T1's ``OptionResponse``: Product → OptionGroup (1st depth) →
OptionSubGroup (2nd depth) → Option, where an option may point at a later group's sub-group
(``relate_option_groups``) or add groups of its own (``added_option_groups``: OptionGroup rows whose
``parent_option`` is that option).  Every row carries ``product`` so a whole tree loads in one query
per table, whatever its size.  Optional contract fields are nullable so that an unset value is
omitted from T1 and an import/export round trip is lossless.
"""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from .images import validate_product_image

TEST_STOCK_HELP = _(
    "What test orders (a test Kakao app's) see, take and give back instead of the real stock; "
    "empty: unlimited. 0 shows the sold-out flow in test mode."
)


def stock_field(*, livemode: bool) -> str:
    """The counter an order of this mode reads and moves: ``stock`` (live) or ``test_stock``.

    The one place the mode picks a column: :mod:`catalog.stock` (holds and their returns) and
    :func:`catalog.selectors.tree_load` (option T1 and T2's checks) go through it.
    """
    return "stock" if livemode else "test_stock"


class Product(models.Model):
    class Kind(models.TextChoices):
        COMMERCE = "commerce", _("commerce")
        NON_COMMERCE = "non_commerce", _("non-commerce")

    class TaxType(models.TextChoices):
        TAXABLE = "taxable", _("taxable")
        TAX_FREE = "tax_free", _("tax-free")

    code = models.CharField(
        _("product id"), max_length=100, unique=True, help_text=_("The id Kakao sends as ?id=, e.g. 101:10013529")
    )
    name = models.CharField(_("name"), max_length=200)
    price = models.BigIntegerField(_("price"), null=True, blank=True, help_text=_("KRW; empty: not shown (non-commerce)"))
    min_quantity = models.PositiveIntegerField(_("min quantity"), null=True, blank=True)
    max_quantity = models.PositiveIntegerField(_("max quantity"), null=True, blank=True)
    default_quantity = models.PositiveIntegerField(_("default quantity"), null=True, blank=True)
    stock = models.PositiveIntegerField(
        _("stock"),
        null=True, blank=True, help_text=_("For a product without stocked options; empty: unlimited")
    )
    test_stock = models.PositiveIntegerField(
        _("test stock"),
        null=True, blank=True, help_text=_(
            "What test orders (a test Kakao app's) see, take and give back instead of the real stock; "
            "empty: unlimited. 0 shows the sold-out flow in test mode. (For a product without stocked options)"
        ),
    )
    on_sale = models.BooleanField(_("on sale"), default=True)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices, default=Kind.COMMERCE)
    tax_type = models.CharField(_("tax type"), max_length=10, choices=TaxType.choices, default=TaxType.TAXABLE)
    needs_shipping = models.BooleanField(_("needs shipping"), default=True)
    product_url = models.URLField(_("product url"), blank=True)
    # Shown on chatbot commerce cards (merchant.skills): a public picture, a category to pick
    # products by, and a list price (정가) above ``price`` to show a discount.
    image = models.FileField(
        _("image"),
        upload_to="products/", blank=True, validators=[validate_product_image],
        help_text=_("JPEG, PNG, GIF or WebP, at most 2 MB: the thumbnail of the chatbot's product card (public)"),
    )  # fmt: skip
    category = models.CharField(_("category"), max_length=100, blank=True, db_index=True)
    list_price = models.BigIntegerField(
        _("list price"),
        null=True, blank=True, help_text=_("KRW before discount (list price); above the price, cards show the discount")
    )
    low_stock_threshold = models.PositiveIntegerField(
        _("low stock threshold"),
        null=True, blank=True,
        help_text=_("Webhook option.low_stock when an option's (or, without options, the product's) live stock "
        "falls to this or below; once per crossing. Empty: never."),
    )  # fmt: skip
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        ordering = ["code"]
        verbose_name = _("product")
        verbose_name_plural = _("products")

    def __str__(self) -> str:
        return f"{self.name} [{self.code}]"

    @property
    def discount(self) -> int:
        if self.price is None or self.list_price is None or self.list_price <= self.price:
            return 0
        return self.list_price - self.price


class OptionGroup(models.Model):
    class Type(models.TextChoices):
        SELECT = "SELECT", _("select")
        MULTI_SELECT = "MULTI_SELECT", _("multi select")
        TEXT = "TEXT", _("text")
        NUMBERS = "NUMBERS", _("numbers")
        INTEGER = "INTEGER", _("integer")
        DATE = "DATE", _("date")

    product = models.ForeignKey(Product, verbose_name=_("product"), on_delete=models.CASCADE, related_name="option_groups")
    parent_option = models.ForeignKey(
        "Option", verbose_name=_("parent option"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="added_option_groups",
        help_text=_("Set for a group that appears when this option is picked (added_option_groups)"),
    )
    position = models.PositiveIntegerField(_("position"), default=0)
    group_id = models.CharField(_("id"), max_length=100)
    name = models.CharField(_("name"), max_length=200)
    required = models.BooleanField(_("required"), null=True, blank=True, help_text=_("Empty means the default, required"))
    description = models.CharField(_("description"), max_length=500, null=True, blank=True)
    type = models.CharField(_("type"), max_length=20, choices=Type.choices, default=Type.SELECT)
    min_length = models.PositiveIntegerField(_("min length"), null=True, blank=True, help_text=_("NUMBERS"))
    max_length = models.PositiveIntegerField(_("max length"), null=True, blank=True, help_text=_("NUMBERS"))
    min_value = models.BigIntegerField(_("min value"), null=True, blank=True, help_text=_("INTEGER"))
    max_value = models.BigIntegerField(_("max value"), null=True, blank=True, help_text=_("INTEGER"))
    placeholder = models.CharField(_("placeholder"), max_length=200, null=True, blank=True)

    class Meta:
        ordering = ["product_id", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["product", "group_id"], name="optiongroup_unique_id_in_product"),
        ]
        verbose_name = _("option group")
        verbose_name_plural = _("option groups")

    def __str__(self) -> str:
        return self.group_id


class OptionSubGroup(models.Model):
    product = models.ForeignKey(Product, verbose_name=_("product"), on_delete=models.CASCADE, related_name="+")
    group = models.ForeignKey(OptionGroup, verbose_name=_("group"), on_delete=models.CASCADE, related_name="sub_groups")
    position = models.PositiveIntegerField(_("position"), default=0)
    sub_group_id = models.CharField(_("id"), max_length=200)
    min_select = models.PositiveIntegerField(_("min select"), null=True, blank=True)
    max_select = models.PositiveIntegerField(_("max select"), null=True, blank=True)
    default_option_id = models.CharField(_("default option id"), max_length=100, null=True, blank=True)

    class Meta:
        ordering = ["group_id", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["product", "sub_group_id"], name="optionsubgroup_unique_id_in_product"),
        ]
        verbose_name = _("option sub-group")
        verbose_name_plural = _("option sub-groups")

    def __str__(self) -> str:
        return self.sub_group_id


class Option(models.Model):
    product = models.ForeignKey(Product, verbose_name=_("product"), on_delete=models.CASCADE, related_name="+")
    sub_group = models.ForeignKey(OptionSubGroup, verbose_name=_("sub group"), on_delete=models.CASCADE, related_name="options")
    position = models.PositiveIntegerField(_("position"), default=0)
    option_id = models.CharField(_("id"), max_length=100)
    value = models.CharField(_("value"), max_length=200)
    add_price = models.BigIntegerField(_("add price"), null=True, blank=True)
    min_quantity = models.PositiveIntegerField(_("min quantity"), null=True, blank=True)
    max_quantity = models.PositiveIntegerField(_("max quantity"), null=True, blank=True)
    stock = models.PositiveIntegerField(_("stock"), null=True, blank=True, help_text=_("Empty: unlimited"))
    test_stock = models.PositiveIntegerField(_("test stock"), null=True, blank=True, help_text=TEST_STOCK_HELP)
    extra = models.CharField(_("extra"), max_length=500, null=True, blank=True)
    low_stock_notified_at = models.DateTimeField(
        _("low stock notified at"),
        null=True, blank=True, editable=False,
        help_text=_("When option.low_stock was sent for the current crossing; cleared when the stock rises above the threshold"),
    )  # fmt: skip
    relate_option_groups = models.ManyToManyField(
        OptionSubGroup, verbose_name=_("relate option groups"), through="OptionRelation", related_name="related_from", blank=True
    )

    class Meta:
        ordering = ["sub_group_id", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["sub_group", "option_id"], name="option_unique_id_in_sub_group"),
        ]
        verbose_name = _("option")
        verbose_name_plural = _("options")

    def __str__(self) -> str:
        return f"{self.option_id} ({self.value})"


class OptionRelation(models.Model):
    """One entry of an option's ``relate_option_groups``: the sub-group to show next."""

    product = models.ForeignKey(Product, verbose_name=_("product"), on_delete=models.CASCADE, related_name="+")
    option = models.ForeignKey(Option, verbose_name=_("option"), on_delete=models.CASCADE, related_name="relations")
    target = models.ForeignKey(OptionSubGroup, verbose_name=_("target"), on_delete=models.CASCADE, related_name="+")
    position = models.PositiveIntegerField(_("position"), default=0)

    class Meta:
        ordering = ["option_id", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["option", "target"], name="optionrelation_unique"),
        ]
        verbose_name = _("option relation")
        verbose_name_plural = _("option relations")


class ProductStockState(models.Model):
    """Which stock webhooks a product has sent and not yet re-armed (:mod:`catalog.stock_alerts`).

    Kept off the product row on purpose: the sold-out check locks this row, and a buyer's hold
    (which locks option rows) must never wait for an admin or API write holding the product row.
    """

    product = models.OneToOneField(Product, verbose_name=_("product"), primary_key=True, on_delete=models.CASCADE, related_name="stock_state")
    sold_out_at = models.DateTimeField(_("sold out at"), null=True, blank=True, help_text=_("product.sold_out sent; cleared when restocked"))
    low_stock_at = models.DateTimeField(
        _("low stock at"),
        null=True, blank=True, help_text=_("option.low_stock sent for the product's own stock (a product without stocked options)")
    )

    class Meta:
        verbose_name = _("product stock state")
        verbose_name_plural = _("product stock states")


class StockHold(models.Model):
    """Stock taken for a pending purchase; released or sold exactly once.

    ``reference`` names the holder (an order's partner_order_id): catalog knows no orders.
    Exactly one of ``option``/``product`` is set: the row whose counter was decremented, ``stock``
    or, when ``livemode`` is false, ``test_stock``.
    """

    class State(models.TextChoices):
        HELD = "held", _("held")
        SOLD = "sold", _("sold")
        RELEASED = "released", _("released")

    reference = models.CharField(_("reference"), max_length=100, db_index=True)
    livemode = models.BooleanField(
        _("livemode"),
        help_text=_("Which counter was taken: stock (live) or test_stock (test); its returns go back there")
    )
    product = models.ForeignKey(Product, verbose_name=_("product"), null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    option = models.ForeignKey(Option, verbose_name=_("option"), null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    quantity = models.PositiveIntegerField(_("quantity"))
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.HELD)
    expires_at = models.DateTimeField(_("expires at"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["state", "expires_at"])]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(option__isnull=False, product__isnull=True)
                | models.Q(option__isnull=True, product__isnull=False),
                name="stockhold_one_target",
            ),
        ]
        verbose_name = _("stock hold")
        verbose_name_plural = _("stock holds")


class SubscriptionPlan(models.Model):
    """A product sold as a subscription (정기결제): payment T1 then carries ``automatic_payment``
    and uses the app's subscription CID.  The rule (see :mod:`catalog.subscriptions`) is copied onto
    each subscription when it starts, so editing a plan never changes what existing subscribers
    were promised."""

    class Cycle(models.TextChoices):
        MONTH = "month", _("monthly")
        WEEK = "week", _("weekly")
        YEAR = "year", _("yearly")

    product = models.OneToOneField(Product, verbose_name=_("product"), on_delete=models.CASCADE, related_name="subscription_plan")
    active = models.BooleanField(_("active"), default=True, help_text=_("Off: the product sells as a single payment again."))
    message = models.CharField(
        _("message"),
        max_length=100, help_text=_('Marketing message shown by KakaoPay (automatic_payment.message), e.g. "첫달 무료"')
    )
    billing_cycle = models.CharField(_("billing cycle"), max_length=10, choices=Cycle.choices, default=Cycle.MONTH)
    interval = models.PositiveSmallIntegerField(_("interval"), default=1, help_text=_("Every N cycles (1: every month)"))
    billing_cycle_label = models.CharField(
        _("billing cycle label"),
        max_length=20, blank=True, help_text=_('automatic_payment.billing_cycle; empty: "월" / "주" / "년" (or "2개월")')
    )
    currency = models.CharField(_("currency"), max_length=10, default="원", help_text=_("automatic_payment.currency"))
    amount = models.PositiveIntegerField(_("regular amount (KRW)"), help_text=_("Charged every period after the intro ones"))
    intro_amounts = models.CharField(
        _("intro amounts"),
        max_length=200, blank=True,
        help_text=_("Amounts of the first periods, comma-separated; the first is paid at sign-up. "
        'E.g. "0" for 첫달 무료, "0, 5000" for free then half price. Empty: the regular amount from the start.'),
    )  # fmt: skip
    periods = models.PositiveIntegerField(
        _("periods"),
        null=True, blank=True, help_text=_("Payments in all, the sign-up payment included; empty: until cancelled")
    )
    details_shown = models.PositiveSmallIntegerField(
        _("details shown"),
        default=12, help_text=_("How many dated amounts payment T1 lists (automatic_payment.details)")
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("subscription plan")
        verbose_name_plural = _("subscription plans")

    def __str__(self) -> str:
        return f"{self.product.name}: {self.message}"

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        try:
            self.rule()
        except ValueError as exc:
            raise ValidationError({"intro_amounts": str(exc)}) from None
        if self.details_shown < 1:
            raise ValidationError({"details_shown": gettext("at least 1")})

    def rule(self):
        from .subscriptions import ScheduleRule, parse_amounts

        return ScheduleRule(
            cycle=self.billing_cycle, interval=self.interval or 1, amount=self.amount or 0,
            intro_amounts=parse_amounts(self.intro_amounts or ""), periods=self.periods,
        )  # fmt: skip

    @property
    def cycle_label(self) -> str:
        return self.billing_cycle_label or self.rule().cycle_label
