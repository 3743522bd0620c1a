"""Print, for every Kakao app, the URLs to enter in Kakao's application form (guide section 9)."""

from __future__ import annotations

import orjson
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from kakaoplugin.models import KakaoApp
from kakaoplugin.plugin_paths import LABELS, SCENARIOS, payment_redirect_patterns, url_for


class Command(BaseCommand):
    help = "Print the plugin URLs of every Kakao app, per application scenario (guide section 9)."

    def add_arguments(self, parser):
        parser.add_argument("--base-url", default=settings.PUBLIC_BASE_URL, help="e.g. https://shop.example.com")
        parser.add_argument("--json", action="store_true")

    def handle(self, *args, **o):
        base = o["base_url"]
        if not base:
            raise CommandError("--base-url is required (or set PUBLIC_BASE_URL)")
        if not base.startswith("https://"):
            self.stderr.write("warning: Kakao only calls https URLs on port 443")
        apps = []
        for app in KakaoApp.objects.filter(is_active=True).order_by("name"):
            urls = lambda names, a=app: {n: url_for(base, a.plugin_key, n, app_id=a.pk) for n in names}  # noqa: E731
            apps.append(
                {
                    "app": app.name,
                    "environment": app.environment,
                    "kakao_app_id": app.kakao_app_id,
                    "scenarios": [
                        {"scenario": s.key, "title": s.title, "urls": urls(s.urls)} for s in SCENARIOS
                    ],
                    # per order, with the order's token (no plugin key): sent in payment T1
                    "payment_redirects": payment_redirect_patterns(base),
                }
            )
        if o["json"]:
            self.stdout.write(orjson.dumps(apps, option=orjson.OPT_INDENT_2).decode())
            return
        for a in apps:
            self.stdout.write(f"== {a['app']} ({a['environment']}) app id {a['kakao_app_id'] or '-'}")
            for s in a["scenarios"]:
                self.stdout.write(f"  [{s['scenario']}] {s['title']}")
                for name, url in s["urls"].items():
                    self.stdout.write(f"    {LABELS[name]}: {url}")
            self.stdout.write("  (per order, sent in payment T1, not entered in the form; the buyer's browser follows them)")
            for name, url in a["payment_redirects"].items():
                self.stdout.write(f"    {LABELS[name]}: {url}")
