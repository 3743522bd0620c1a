"""The merchant API keys' admin: a key is shown once, on save; scopes reading personal data only
for staff who may see it."""

from __future__ import annotations

import copy

from django import forms
from django.contrib import admin, messages
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from .masking import can_see_personal_data
from .models import MerchantApiKey
from .services import api_key_create, api_key_revoke

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
