"""What a browser would post for an admin page's main form, read from its HTML (for tests and
bench scripts driving the admin with Django's test client)."""

from __future__ import annotations

from html.parser import HTMLParser


class FormFields(HTMLParser):
    """The values a browser would post for the page's main form."""

    def __init__(self):
        super().__init__()
        self.data: list[tuple[str, str]] = []
        self._select: str | None = None
        self._textarea: str | None = None
        self._text = ""

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        name = a.get("name")
        if tag == "input" and name and a.get("type") not in ("submit", "file", "button"):
            if a.get("type") in ("checkbox", "radio") and "checked" not in a:
                return
            self.data.append((name, a.get("value", "on" if a.get("type") == "checkbox" else "")))
        elif tag == "select" and name:
            self._select = name
        elif tag == "option" and self._select and "selected" in a:
            self.data.append((self._select, a.get("value", "")))
        elif tag == "textarea" and name:
            self._textarea, self._text = name, ""

    def handle_endtag(self, tag):
        if tag == "select":
            self._select = None
        elif tag == "textarea" and self._textarea:
            self.data.append((self._textarea, self._text.strip("\n")))
            self._textarea = None

    def handle_data(self, data):
        if self._textarea:
            self._text += data


def form_data(html: str) -> dict:
    parser = FormFields()
    parser.feed(html)
    out: dict = {}
    for name, value in parser.data:
        if "__prefix__" in name or name == "csrfmiddlewaretoken":
            continue
        out[name] = value
    return out


def field_named(data: dict, suffix: str, value: str) -> str:
    """The name of the posted field ending in ``suffix`` whose value is ``value``."""
    names = [n for n, v in data.items() if n.endswith(suffix) and v == value]
    assert len(names) == 1, (suffix, value, names)
    return names[0]


def form_errors(response) -> str:
    html = response.content.decode()
    start = html.find("errorlist")
    return html[start - 200 : start + 1500] if start >= 0 else html[:2000]
