"""Admin of the chatbot skills: what each skill shows, its URLs for Open Builder, readiness."""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin, messages
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from .models import ChatbotSkills, new_skill_key
from .skills.answers import SKILLS


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
