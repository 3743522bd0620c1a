from django import template

from ..dashboard import dashboard_cards

register = template.Library()


@register.inclusion_tag("backoffice/dashboard.html", takes_context=True)
def dashboard(context):
    request = context.get("request")
    user = getattr(request, "user", None)
    return {"cards": dashboard_cards(user) if user is not None and user.is_active and user.is_staff else []}
