"""Create or update a Kakao app from flags and print it as JSON with its plugin URLs."""

from __future__ import annotations

import orjson
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from kakaoplugin.fields import mask
from kakaoplugin.models import KakaoApp
from kakaoplugin.plugin_paths import plugin_urls
from kakaoplugin.services import kakao_app_create_or_update, kakao_app_rotate_plugin_key


def app_as_json(app: KakaoApp, base_url: str) -> dict:
    return {
        "name": app.name,
        "environment": app.environment,
        "kakao_app_id": app.kakao_app_id,
        "rest_api_key": app.rest_api_key,
        "kakaopay_api": app.kakaopay_api,
        "kakaopay_admin_key": mask(app.kakaopay_admin_key),
        "kakaopay_secret_key": mask(app.kakaopay_secret_key),
        "cid": app.cid,
        "cid_secret": mask(app.cid_secret),
        "subscription_cid": app.subscription_cid,
        "wrap_approval_url": app.wrap_approval_url,
        "allowed_networks": app.networks and [str(n) for n in app.networks],
        "option_plugin_id": app.option_plugin_id,
        "payment_plugin_id": app.payment_plugin_id,
        "is_active": app.is_active,
        "plugin_urls": plugin_urls(base_url, app.plugin_key, app_id=app.pk),
    }


class Command(BaseCommand):
    help = "Create or update a Kakao app (by --name) and print it as JSON, with its plugin URLs."

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True)
        parser.add_argument("--environment", choices=[c for c, _ in KakaoApp.Environment.choices])
        parser.add_argument("--kakao-app-id")
        parser.add_argument("--rest-api-key")
        parser.add_argument("--client-secret", dest="kakao_client_secret")
        parser.add_argument("--kakaopay-api", choices=[c for c, _ in KakaoApp.PayApi.choices])
        parser.add_argument("--admin-key", dest="kakaopay_admin_key")
        parser.add_argument("--secret-key", dest="kakaopay_secret_key")
        parser.add_argument("--cid")
        parser.add_argument("--cid-secret")
        parser.add_argument("--subscription-cid")
        parser.add_argument("--wrap-approval-url", choices=["yes", "no"])
        parser.add_argument("--allowed-networks", help="comma separated CIDRs; '' clears")
        parser.add_argument("--option-plugin-id", help="Kakao's option plugin id (launch links); '' clears")
        parser.add_argument("--payment-plugin-id", help="Kakao's payment plugin id (launch links); '' clears")
        parser.add_argument("--plugin-key", help="set a known plugin key (at least 32 characters)")
        parser.add_argument("--rotate-plugin-key", action="store_true")
        parser.add_argument("--inactive", action="store_true")
        parser.add_argument("--base-url", default=settings.PUBLIC_BASE_URL or "https://shop.example.com")

    def handle(self, *args, **o):
        fields = {
            k: o[k]
            for k in (
                "environment",
                "kakao_app_id",
                "rest_api_key",
                "kakao_client_secret",
                "kakaopay_api",
                "kakaopay_admin_key",
                "kakaopay_secret_key",
                "cid",
                "cid_secret",
                "subscription_cid",
                "option_plugin_id",
                "payment_plugin_id",
            )
        }
        if o["wrap_approval_url"]:
            fields["wrap_approval_url"] = o["wrap_approval_url"] == "yes"
        if o["allowed_networks"] is not None:
            fields["allowed_networks"] = "\n".join(p.strip() for p in o["allowed_networks"].split(",") if p.strip())
        if o["plugin_key"] is not None:
            if len(o["plugin_key"]) < 32:
                raise CommandError("--plugin-key must be at least 32 characters")
            fields["plugin_key"] = o["plugin_key"]
        if o["inactive"]:
            fields["is_active"] = False
        if not KakaoApp.objects.filter(name=o["name"]).exists() and not o["rest_api_key"]:
            raise CommandError("--rest-api-key is required when creating an app")
        try:
            app, created = kakao_app_create_or_update(name=o["name"], **fields)
        except ValidationError as exc:
            raise CommandError("; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items()))
        if o["rotate_plugin_key"]:
            kakao_app_rotate_plugin_key(kakao_app=app)
        out = app_as_json(app, o["base_url"]) | {"created": created}
        self.stdout.write(orjson.dumps(out, option=orjson.OPT_INDENT_2).decode())
