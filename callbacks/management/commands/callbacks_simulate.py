"""manage.py callbacks_simulate: play Kakao against a running server and the local fake (demo).

    callbacks_simulate --kind profile|location|secure-image|kakaosync [--app demo]
        [--fake http://127.0.0.1:8701] [--base http://127.0.0.1:8000]

Seeds an OTP (or a Kakao Login user) on the fake, then POSTs the callback to the server the way
Kakao does; for kakaosync it prints the redirect URL to open in a browser.
"""

from __future__ import annotations

import requests
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from kakaoplugin.models import KakaoApp
from kakaoplugin.plugin_paths import plugin_url

SAMPLES = {
    "onetimeprofile": {
        "nickname": "라이언", "phone_number": "+82 10-1234-5678", "email": "ryan@example.com",
        "shipping_address": {"id": 1, "base_address": "경기도 성남시 분당구 판교역로 235", "detail_address": "H스퀘어 6층",
                             "receiver_name": "라이언", "receiver_mobile_number": "+82 10-1234-5678", "zone_code": "13494"},
        "age_range": "30~39", "birthyear": "1990", "birthday": "0101", "gender": "male",
        "ci": "demo-ci-value", "ci_authenticated_at": "2020-01-01T00:00:00Z", "app_user_id": 1001,
    },
    "current_location": {
        "latitude": 37.40201073377386, "longitude": 127.10849451749681,
        "land_address": {"address_name": "경기 성남시 분당구 삼평동 681"},
        "road_address": {"address_name": "경기도 성남시 분당구 판교역로 235", "zone_no": "13494"}, "detail": "8층",
    },
}  # fmt: skip
KINDS = {"profile": "onetimeprofile", "location": "current_location", "secure-image": "secure_image"}


class Command(BaseCommand):
    help = "Simulate a Kakao callback (or a Kakao Sync sign-up) against a running server and the local fake."

    def add_arguments(self, parser):
        parser.add_argument("--kind", required=True, choices=[*KINDS, "kakaosync"])
        parser.add_argument("--app", default="demo")
        parser.add_argument("--fake", default="http://127.0.0.1:8701")
        parser.add_argument("--base", default=settings.PUBLIC_BASE_URL or "http://127.0.0.1:8000")
        parser.add_argument("--relay-id", default="demo-relay")

    def handle(self, *args, kind, app, fake, base, relay_id, **options):
        kakao_app = KakaoApp.objects.filter(name=app).first()
        if kakao_app is None:
            raise CommandError(f"no Kakao app named {app}")
        fake = fake.rstrip("/")
        if kind == "kakaosync":
            redirect = plugin_url(base, kakao_app.plugin_key, "kakaosync_redirect")
            r = requests.post(f"{fake}/fake/kakao_login/user", timeout=5, json={
                "id": 1001, "client_id": kakao_app.rest_api_key, "redirect_uri": redirect,
                "kakao_account": {"profile": {"nickname": "라이언"}, "email": "ryan@example.com"},
                "service_terms": [{"tag": "service", "required": True}, {"tag": "marketing"}],
            })  # fmt: skip
            r.raise_for_status()
            self.stdout.write(f"open in a browser:\n{redirect}?code={r.json()['code']}&state=demo")
            return
        otp_kind = KINDS[kind]
        seed = {"kind": otp_kind, "rest_api_key": kakao_app.rest_api_key, "data": SAMPLES.get(otp_kind, {}), "images": 2}
        r = requests.post(f"{fake}/fake/otp", json=seed, timeout=5)
        r.raise_for_status()
        otp_url = r.json()["url"]
        path = {"profile": "callback_profile", "location": "callback_location", "secure-image": "callback_secure_image"}[kind]
        answer = requests.post(
            plugin_url(base, kakao_app.plugin_key, path),
            json={"otp": otp_url},
            headers={"X-Kakao-Plugin-Relay-Id": relay_id, "X-Kakao-AppUserId": "1001"},
            timeout=10,
        )
        self.stdout.write(f"POST {kind} callback with {otp_url} → HTTP {answer.status_code} {answer.text}")
        self.stdout.write("see it in the admin: /admin/callbacks/callbackevent/")
