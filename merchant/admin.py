"""Admin of the merchant API's keys and of the chatbot skills: what each skill shows, its URLs for
Open Builder, readiness."""

from __future__ import annotations

import copy

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from kakaoplugin.masking import can_see_personal_data

from .models import ChatbotSkills, MerchantApiKey, new_skill_key
from .services import api_key_create, api_key_revoke
from .skills.answers import SKILLS

# API key scopes that read personal data: only staff who may see it can grant them.
PERSONAL_SCOPES = (MerchantApiKey.Scope.SHIPPING, MerchantApiKey.Scope.PERSONAL)


class ApiKeyForm(forms.ModelForm):
    scopes = forms.MultipleChoiceField(
        label=_("scopes"), choices=MerchantApiKey.Scope.choices, widget=forms.CheckboxSelectMultiple, required=False
    )

    class Meta:
        model = MerchantApiKey
        fields = ("kakao_app", "name", "scopes")


@admin.register(MerchantApiKey)
class MerchantApiKeyAdmin(admin.ModelAdmin):
    form = ApiKeyForm
    list_display = ("name", "kakao_app", "masked", "scopes", "created_at", "last_used_at", "revoked_at")
    list_filter = ("kakao_app", "revoked_at")
    readonly_fields = ("masked", "created_by", "created_at", "last_used_at", "revoked_at")
    actions = ["revoke"]

    @admin.display(description=_("key"))
    def masked(self, obj: MerchantApiKey) -> str:
        return f"kp_{obj.prefix}_…" if obj.prefix else gettext("(shown once, on save)")

    def get_form(self, request, obj=None, **kwargs):
        form = super().get_form(request, obj, **kwargs)
        if "scopes" in form.base_fields and not can_see_personal_data(request.user):
            # a key with a personal scope reads what this staff member may not see: not theirs to make
            field = form.base_fields["scopes"] = copy.deepcopy(form.base_fields["scopes"])
            field.choices = [(v, label) for v, label in field.choices if v not in PERSONAL_SCOPES]
            field.help_text = gettext("Scopes that read personal data need the “see personal data” permission.")
        return form

    def get_readonly_fields(self, request, obj=None):
        # a key's app and scopes are fixed once made: make a new key instead
        return (*self.readonly_fields, "kakao_app", "scopes") if obj else self.readonly_fields

    def save_model(self, request, obj, form, change):
        if change:
            obj.save(update_fields=["name"])
            return
        key, plain = api_key_create(
            kakao_app=form.cleaned_data["kakao_app"],
            name=form.cleaned_data["name"],
            scopes=list(form.cleaned_data["scopes"]),
            created_by=request.user.get_username(),
        )
        obj.pk, obj.prefix = key.pk, key.prefix
        obj._state.adding = False
        self.message_user(
            request,
            format_html(gettext("New API key (shown this once, copy it now): <code>{}</code>"), plain),
            messages.WARNING,
        )

    @admin.action(description=_("Revoke (stops working at once)"), permissions=["change"])
    def revoke(self, request, queryset):
        for key in queryset:
            api_key_revoke(api_key=key)


def skill_urls(skills: ChatbotSkills, base: str) -> dict[str, str]:
    return {name: f"{base.rstrip('/')}/skill/{skills.skill_key}/{name}" for name in SKILLS}


@admin.register(ChatbotSkills)
class ChatbotSkillsAdmin(admin.ModelAdmin):
    list_display = ("kakao_app", "enabled", "source", "ready")
    list_filter = ("enabled", "source")
    filter_horizontal = ("products",)
    actions = ["rotate_skill_key"]
    fieldsets = (
        (None, {"fields": ("kakao_app", "enabled", "readiness")}),
        (_("Products in the carousel"), {"fields": ("source", "category", "products", "max_products", "products_intro")}),
        (_("Buttons"), {"fields": ("option_button_label", "buy_now_button_label", "pay_button_label",
                                "order_detail_button_label", "order_status_block_id")}),  # fmt: skip
        (_("Texts"), {"fields": ("not_ready_text", "no_orders_text", "needs_account_text")}),
    )

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if obj is not None and request.user.has_perm("merchant.view_skill_urls"):
            fieldsets = (*fieldsets, (_("Open Builder"), {"fields": ("skill_urls_shown",)}))
        return fieldsets

    def get_readonly_fields(self, request, obj=None):
        return ("readiness", "skill_urls_shown") + (("kakao_app",) if obj else ())

    @admin.display(boolean=True, description=_("ready"))
    def ready(self, obj):
        return not obj.warnings()

    @admin.display(description=_("readiness"))
    def readiness(self, obj):
        if obj is None or obj.pk is None:
            return "—"
        found = obj.warnings()
        if not found:
            return gettext("every skill can answer with its buttons")
        return format_html("<ul>{}</ul>", format_html_join("", "<li>{}</li>", ((w,) for w in found)))

    @admin.display(description=_("skill URLs (register each in Open Builder, POST)"))
    def skill_urls_shown(self, obj):
        base = settings.PUBLIC_BASE_URL or "https://<your host>"
        rows = ((name, url) for name, url in skill_urls(obj, base).items())
        return format_html("<table>{}</table>", format_html_join("", "<tr><th>{}</th><td><code>{}</code></td></tr>", rows))

    def change_view(self, request, object_id, form_url="", extra_context=None):
        obj = self.get_object(request, object_id)
        if obj is not None and request.method == "GET":
            for warning in obj.warnings():
                messages.warning(request, warning)
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.action(description=_("Rotate the skill key (every skill URL changes)"), permissions=["change"])
    def rotate_skill_key(self, request, queryset):
        for skills in queryset:
            ChatbotSkills.objects.filter(pk=skills.pk).update(skill_key=new_skill_key(), skill_key_rotated_at=timezone.now())
        self.message_user(
            request,
            gettext("%(count)d skill key(s) rotated: register the new URLs in Open Builder") % {"count": queryset.count()},
        )
