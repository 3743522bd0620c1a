"""Staff admin of callbacks: the event log with fetch attempts and "fetch again", members with
their profile, addresses, consents, locations and images, Kakao Sync sign-ups, retention purges.

Personal data is masked everywhere unless the staff user has ``kakaoplugin.view_personal_data``
("Can see personal data in full", :mod:`kakaoplugin.masking`); image files are served only to those users.
"""

from __future__ import annotations

import json

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from kakaoplugin.admin_filters import within_filter
from kakaoplugin.admin_masking import HIDDEN, PersonalDataMixin
from kakaoplugin.masking import can_see_personal_data
from kakaoplugin.models import Customer

from . import services
from .models import (
    CallbackEvent,
    Consent,
    FetchAttempt,
    KakaoSyncSignup,
    LocationRecord,
    MemberProfile,
    PurgeRun,
    SecureImage,
    SecureImageSet,
    ShippingAddress,
)


def _link(obj, label: str | None = None):
    if obj is None:
        return "-"
    url = reverse(f"admin:{obj._meta.app_label}_{obj._meta.model_name}_change", args=[obj.pk])
    return format_html('<a href="{}">{}</a>', url, label or str(obj))


def _pretty(value) -> str:
    return format_html("<pre style='white-space:pre-wrap;max-width:60em'>{}</pre>", json.dumps(value, ensure_ascii=False, indent=2))


class ReadOnlyMixin:
    """Everything here is written by Kakao's calls and our tasks, never edited by hand."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_refetch_permission(self, request) -> bool:
        """Actions that fetch again need the model's change permission, though no field is editable."""
        opts = self.opts
        return request.user.has_perm(f"{opts.app_label}.change_{opts.model_name}")


# --- members: extend whatever Customer admin is registered (kakaoplugin's) --------------------


class MemberProfileInline(PersonalDataMixin, ReadOnlyMixin, admin.StackedInline):
    model = MemberProfile
    can_delete = False
    fields = (
        "source", "nickname", "profile_image_url", "phone_number", "email", "age_range", "birthyear",
        "birthday", "gender", "ci_hash", "ci_authenticated_at", "collected_at", "purged_at",
    )  # fmt: skip
    readonly_fields = fields
    personal_fields = (
        "nickname", "profile_image_url", "phone_number", "email", "age_range", "birthyear", "birthday", "gender",
        "ci_hash",
    )  # fmt: skip


class ShippingAddressInline(PersonalDataMixin, ReadOnlyMixin, admin.TabularInline):
    model = ShippingAddress
    extra = 0
    fields = ("kakao_address_id", "receiver_name", "receiver_mobile_number", "base_address", "detail_address", "zone_code", "post_no", "collected_at")
    readonly_fields = fields
    personal_fields = ("receiver_name", "receiver_mobile_number", "base_address", "detail_address")


class ConsentInline(ReadOnlyMixin, admin.TabularInline):
    model = Consent
    extra = 0
    fields = ("tag", "agreed_at", "source", "recorded_at")
    readonly_fields = fields
    can_delete = False


class LocationInline(PersonalDataMixin, ReadOnlyMixin, admin.TabularInline):
    model = LocationRecord
    fk_name = "customer"
    extra = 0
    fields = ("created_at", "relay_id", "usable", "land_address_name", "road_address_name", "detail", "latitude", "longitude", "event_link")
    readonly_fields = fields
    personal_fields = ("land_address_name", "road_address_name", "detail", "latitude", "longitude")
    can_delete = False

    @admin.display(description=_("event"))
    def event_link(self, obj):
        return _link(obj.event)


class ImageSetInline(PersonalDataMixin, ReadOnlyMixin, admin.TabularInline):
    model = SecureImageSet
    fk_name = "customer"
    extra = 0
    fields = ("set_link", "created_at", "relay_id", "status", "expire", "thumbnails")
    readonly_fields = fields
    personal_fields = ("thumbnails",)
    can_delete = False

    @admin.display(description=_("set"))
    def set_link(self, obj):
        return _link(obj)

    @admin.display(description=_("images"))
    def thumbnails(self, obj):
        return _thumbnails(obj.images.all())


def _thumbnails(images):
    rows = []
    for image in images:
        if image.status == SecureImage.Status.STORED and image.file:
            url = reverse("admin:callbacks_secureimage_file", args=[image.pk])
            rows.append(format_html('<a href="{0}" target="_blank"><img src="{0}" alt="{1}" style="max-height:80px;max-width:120px;margin:2px;border:1px solid #ccc"></a>', url, f"{image.position}/{image.size}"))
        else:
            rows.append(format_html("<span title='{}'>[{} {}]</span>", image.error, image.position, image.get_status_display()))
    return format_html_join(" ", "{}", ((r,) for r in rows)) if rows else "-"


_base_customer_admin = type(admin.site._registry[Customer]) if admin.site.is_registered(Customer) else admin.ModelAdmin
if admin.site.is_registered(Customer):
    admin.site.unregister(Customer)


@admin.register(Customer)
class MemberAdmin(_base_customer_admin):
    """kakaoplugin's member admin plus what callbacks and Kakao Sync learnt about the member."""

    inlines = [
        *getattr(_base_customer_admin, "inlines", []),
        MemberProfileInline,
        ShippingAddressInline,
        ConsentInline,
        LocationInline,
        ImageSetInline,
    ]


@admin.register(MemberProfile)
class MemberProfileAdmin(PersonalDataMixin, ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("member", "kakao_app", "masked_nickname", "masked_phone_number", "masked_email", "has_ci", "source", "collected_at", "purged_at")
    list_filter = ("source", "customer__kakao_app", ("purged_at", admin.EmptyFieldListFilter))
    search_fields = ("customer__app_user_id",)
    list_select_related = ("customer", "customer__kakao_app")
    fields = MemberProfileInline.fields[:1] + ("member",) + MemberProfileInline.fields[1:]
    readonly_fields = fields
    personal_fields = MemberProfileInline.personal_fields

    @admin.display(description=_("member"), ordering="customer__app_user_id")
    def member(self, obj):
        return _link(obj.customer, obj.customer.app_user_id)

    @admin.display(description=_("Kakao app"))
    def kakao_app(self, obj):
        return obj.customer.kakao_app.name

    @admin.display(description=_("CI"), boolean=True)
    def has_ci(self, obj):
        return bool(obj.ci_hash)


# --- the event log ------------------------------------------------------------------------------


class FetchAttemptInline(ReadOnlyMixin, admin.TabularInline):
    model = FetchAttempt
    extra = 0
    can_delete = False
    fields = ("number", "started_at", "finished_at", "http_status", "ok", "error")
    readonly_fields = fields


@admin.register(CallbackEvent)
class CallbackEventAdmin(PersonalDataMixin, ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("id", "received_at", "kind", "kakao_app", "relay_id", "status", "attempts", "short_error", "produced")
    list_filter = ("kind", "status", within_filter("received_at", _("received")), "kakao_app", "received_at")
    search_fields = ("relay_id", "app_user_id", "=id")
    date_hierarchy = "received_at"
    list_select_related = ("kakao_app", "customer", "location", "image_set")
    inlines = [FetchAttemptInline]
    actions = ["fetch_again"]
    fields = (
        "kind", "kakao_app", "relay_id", "app_user_id", "source_ip", "received_at", "status", "attempts",
        "last_error", "fetched_at", "processed_at", "produced", "duplicate_of", "otp_url", "headers_pretty",
        "body", "raw_response_pretty", "payload_purged_at",
    )  # fmt: skip
    readonly_fields = fields
    personal_fields = ("raw_response_pretty",)

    def has_delete_permission(self, request, obj=None):
        return False  # the log is evidence; the retention purge empties payloads instead

    @admin.display(description=_("error"))
    def short_error(self, obj):
        return (obj.last_error[:80] + "…") if len(obj.last_error) > 80 else obj.last_error

    @admin.display(description=_("produced"))
    def produced(self, obj):
        parts = []
        if obj.customer_id:
            parts.append(_link(obj.customer, f"member {obj.customer.app_user_id}"))
        location = getattr(obj, "location", None)
        if location is not None:
            parts.append(_link(location))
        image_set = getattr(obj, "image_set", None)
        if image_set is not None:
            parts.append(_link(image_set))
        if obj.duplicate_of_id:
            parts.append(format_html(gettext("duplicate of {}"), _link(obj.duplicate_of, f"#{obj.duplicate_of_id}")))
        return format_html_join(", ", "{}", ((p,) for p in parts)) if parts else "-"

    @admin.display(description=_("headers"))
    def headers_pretty(self, obj):
        return _pretty(obj.headers)

    @admin.display(description=_("Kakao's answer (raw)"))
    def raw_response_pretty(self, obj):
        if obj.raw_response is None:
            return "-"
        return _pretty(obj.raw_response)

    def masked_raw_response_pretty(self, obj):
        if obj.raw_response is None:
            return "-"
        return format_html(gettext("{} keys: {} {}"), len(obj.raw_response), ", ".join(sorted(obj.raw_response)), HIDDEN)

    masked_raw_response_pretty.short_description = _("Kakao's answer (raw)")

    @admin.action(description=_("Fetch again (failed events)"), permissions=["refetch"])
    def fetch_again(self, request, queryset):
        queued = sum(services.callback_event_fetch_again(event=event) for event in queryset)
        skipped = queryset.count() - queued
        self.message_user(
            request,
            gettext("Queued %(queued)d event(s) again; %(skipped)d not failed, left alone.")
            % {"queued": queued, "skipped": skipped},
            messages.INFO,
        )


@admin.register(LocationRecord)
class LocationRecordAdmin(PersonalDataMixin, ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("id", "created_at", "kakao_app", "relay_id", "customer", "usable", "masked_land_address_name")
    list_filter = ("usable", "kakao_app", "created_at")
    search_fields = ("relay_id", "customer__app_user_id")
    list_select_related = ("kakao_app", "customer")
    fields = ("event", "kakao_app", "customer", "relay_id", "usable", "latitude", "longitude", "land_address_name", "road_address_name", "zone_no", "detail", "land_address", "road_address", "created_at")
    readonly_fields = fields
    personal_fields = ("latitude", "longitude", "land_address_name", "road_address_name", "zone_no", "detail", "land_address", "road_address")


class SecureImageInline(PersonalDataMixin, ReadOnlyMixin, admin.TabularInline):
    model = SecureImage
    extra = 0
    can_delete = False
    fields = ("position", "size", "status", "thumbnail", "content_type", "bytes", "sha256", "fetched_at", "error")
    readonly_fields = fields
    personal_fields = ("thumbnail",)

    @admin.display(description=_("image"))
    def thumbnail(self, obj):
        return _thumbnails([obj])


@admin.register(SecureImageSet)
class SecureImageSetAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("id", "created_at", "kakao_app", "relay_id", "customer", "status", "expire", "counts")
    list_filter = ("status", "kakao_app", "created_at")
    search_fields = ("relay_id", "customer__app_user_id")
    list_select_related = ("kakao_app", "customer")
    fields = ("event", "kakao_app", "customer", "relay_id", "status", "expire", "attempts", "download_requested_at", "created_at")
    readonly_fields = fields
    inlines = [SecureImageInline]
    actions = ["download_again"]

    @admin.display(description=_("stored / total"))
    def counts(self, obj):
        statuses = [i.status for i in obj.images.all()]
        return f"{statuses.count(SecureImage.Status.STORED)} / {len(statuses)}"

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("images")

    @admin.action(description=_("Download failed images again (before they expire)"), permissions=["refetch"])
    def download_again(self, request, queryset):
        queued = sum(services.secure_image_set_download_again(image_set=s) for s in queryset)
        self.message_user(request, gettext("Queued %(queued)d image(s) again.") % {"queued": queued}, messages.INFO)


@admin.register(SecureImage)
class SecureImageAdmin(ReadOnlyMixin, admin.ModelAdmin):
    """Not in the menu: serves image files to staff allowed to see personal data."""

    def has_module_permission(self, request):
        return False

    def get_urls(self):
        return [
            path("<int:pk>/file/", self.admin_site.admin_view(self.file_view), name="callbacks_secureimage_file"),
            *super().get_urls(),
        ]

    def file_view(self, request, pk: int):
        if not can_see_personal_data(request.user):
            raise PermissionDenied
        image = get_object_or_404(SecureImage, pk=pk, status=SecureImage.Status.STORED)
        if not image.file or not default_storage.exists(image.file.name):
            raise Http404("file gone")
        response = FileResponse(default_storage.open(image.file.name, "rb"), content_type=image.content_type)
        response["Cache-Control"] = "private, no-store"
        response["X-Content-Type-Options"] = "nosniff"
        return response


@admin.register(KakaoSyncSignup)
class KakaoSyncSignupAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("id", "started_at", "kakao_app", "status", "customer", "created_customer", "replays", "error")
    list_filter = ("status", "kakao_app", "created_customer", "started_at")
    search_fields = ("kakao_user_id", "state")
    list_select_related = ("kakao_app", "customer")
    fields = ("kakao_app", "status", "error", "kakao_user_id", "customer", "created_customer", "terms", "state", "continue_url", "replays", "source_ip", "started_at", "finished_at")
    readonly_fields = fields


@admin.register(PurgeRun)
class PurgeRunAdmin(ReadOnlyMixin, admin.ModelAdmin):
    list_display = ("started_at", "triggered_by", "dry_run", "personal_cutoff", "raw_cutoff", "counts", "error")
    list_filter = ("dry_run", "triggered_by")
    fields = ("started_at", "finished_at", "triggered_by", "dry_run", "personal_cutoff", "raw_cutoff", "counts", "error")
    readonly_fields = fields

    def has_delete_permission(self, request, obj=None):
        return False
