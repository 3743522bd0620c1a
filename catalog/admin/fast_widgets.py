"""A form renderer that writes the plain inputs and selects of the tree page's rows in Python.

Byte for byte what Django's widget templates write; through the template engine each of the
~12,000 widgets of a 1,000-option page costs about a millisecond. Any other template goes to
Django's (see :mod:`catalog.admin.tree_rows`).
"""

from __future__ import annotations

from django.forms.renderers import DjangoTemplates
from django.utils.html import conditional_escape
from django.utils.safestring import mark_safe

# --- widgets rendered in Python ----------------------------------------------------------------


def _attrs(attrs: dict) -> str:
    # django/forms/widgets/attrs.html
    out = []
    for name, value in attrs.items():
        if value is False:
            continue
        out.append(
            f" {conditional_escape(name)}"
            if value is True
            else f' {conditional_escape(name)}="{conditional_escape(str(value))}"'
        )
    return "".join(out)


def _input(widget: dict) -> str:
    # django/forms/widgets/input.html
    value = "" if widget["value"] is None else f' value="{conditional_escape(str(widget["value"]))}"'
    return f'<input type="{conditional_escape(widget["type"])}" name="{conditional_escape(widget["name"])}"{value}{_attrs(widget["attrs"])}>'


def _option(option: dict) -> str:
    # django/forms/widgets/select_option.html
    return (
        f'<option value="{conditional_escape(str(option["value"]))}"{_attrs(option["attrs"])}>'
        f"{conditional_escape(option['label'])}</option>"
    )


def _select(widget: dict) -> str:
    # django/forms/widgets/select.html
    out = [f'<select name="{conditional_escape(widget["name"])}"{_attrs(widget["attrs"])}>']
    for group_name, group_choices, _index in widget["optgroups"]:
        if group_name:
            out.append(f'\n  <optgroup label="{conditional_escape(group_name)}">')
        for option in group_choices:
            if option["template_name"] != "django/forms/widgets/select_option.html":
                return None  # not a plain select: let the templates render it
            out.append(f"\n  {_option(option)}\n")  # select_option.html ends with a newline
        if group_name:
            out.append("\n  </optgroup>")
    out.append("\n</select>")
    return "".join(out)


_PYTHON_TEMPLATES = {
    **{
        f"django/forms/widgets/{kind}.html": _input
        for kind in ("input", "text", "number", "hidden", "checkbox", "email", "url")
    },
    "django/forms/widgets/select.html": _select,
}


class FastWidgetRenderer(DjangoTemplates):
    """Django's form renderer, but the plain inputs and selects are written in Python."""

    def render(self, template_name, context, request=None):
        write = _PYTHON_TEMPLATES.get(template_name)
        if write is not None and "widget" in context:
            html = write(context["widget"])
            if html is not None:
                return mark_safe(html)
        return super().render(template_name, context, request)


FAST_RENDERER = FastWidgetRenderer()
