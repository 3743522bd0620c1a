"""The back office's admin pages: the dashboard on the admin index (backoffice.dashboard) and the
member page (backoffice.members), added to whatever member admin is registered (kakaoplugin's,
extended by callbacks'): ``admin:kakaoplugin_customer_page``, linked from the member list and the
member's admin page."""

from __future__ import annotations

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from kakaoplugin.models import Customer

from .members import member_page

admin.site.index_template = "backoffice/index.html"  # the admin's index with the dashboard on top

_base_member_admin = type(admin.site._registry[Customer]) if admin.site.is_registered(Customer) else admin.ModelAdmin
if admin.site.is_registered(Customer):
    admin.site.unregister(Customer)


@admin.register(Customer)
class MemberPageAdmin(_base_member_admin):
    change_form_template = "backoffice/member_change_form.html"

    def get_list_display(self, request):
        return (*super().get_list_display(request), "page_link")

    @admin.display(description=_("member page"))
    def page_link(self, obj):
        return format_html('<a href="{}">{}</a>', reverse("admin:kakaoplugin_customer_page", args=[obj.pk]), _("open"))

    def get_urls(self):
        page = path("<int:pk>/page/", self.admin_site.admin_view(self.page_view), name="kakaoplugin_customer_page")
        return [page, *super().get_urls()]

    def page_view(self, request, pk: int):
        customer = Customer.objects.select_related("kakao_app").filter(pk=pk).first()
        if customer is None:
            raise Http404
        if not self.has_view_permission(request, customer):
            raise PermissionDenied
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("Member %(id)s") % {"id": customer.app_user_id},

            "can_change": self.has_change_permission(request, customer),
            **member_page(customer, request.user),
        }
        return TemplateResponse(request, "backoffice/member_page.html", context)
