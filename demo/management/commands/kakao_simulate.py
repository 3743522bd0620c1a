"""``manage.py kakao_simulate``: play Kakao against a running server and the fake Kakao/KakaoPay.

    kakao_simulate [--app demo] [--base http://127.0.0.1:8000] [--fake http://127.0.0.1:8701]
                   [--scenario NAME ...] [--product 101:10013529] [--api-key kp_...] [--quiet]
                   [--wait-for-server 60]
    kakao_simulate --buyers 200 --stock 20 [--concurrency N] [--connections N] [--flash-product sim:flash-sale]
                   [--settle-timeout 30]

Without ``--buyers`` it runs the scenarios (all, or those named) and prints each step and a
PASS/FAIL line per scenario.  With ``--buyers N --stock M`` it first sets the flash-sale product's
stock to M in the database (a step of this command: no HTTP endpoint sets stock without the admin),
then runs the flash sale over HTTP, and counts the money from the fake's full state and from our
database through the merchant API (a key made for the run, as below; ``--settle-timeout`` bounds the
wait for orders still approving or refunding).  The exit code is 1 when anything failed.

Scenario 9.2.3 (``sync-payment``) has the merchant's chatbot make its order sheet through the
merchant API: with ``--api-key`` (or ``KAKAO_SIMULATE_API_KEY``) it uses that key (scope
``orders``), otherwise it makes a key for the run and revokes it when the run ends.

This command only finds the Kakao app's keys, makes the API key and sets the stock; the simulator
itself (``simulator/``) speaks HTTP only.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from contextlib import nullcontext

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from kakaoplugin.models import KakaoApp
from simulator.http import Printer
from simulator.load import flash_sale
from simulator.scenarios import NAMES, need_merchant_api, run_scenarios
from simulator.target import DEMO_PRODUCT, Target, wait_until_up

from ...services import FLASH_PRODUCT, StockStillHeld, flash_sale_product_set, simulator_api_key


class Command(BaseCommand):
    help = "Play Kakao's side (section 9 scenarios, callbacks, or a flash sale) against a running server."

    def add_arguments(self, parser):
        parser.add_argument("--app", default="demo", help="the Kakao app (by name) whose plugin URLs to call")
        parser.add_argument(
            "--base", default=settings.PUBLIC_BASE_URL or "http://127.0.0.1:8000", help="our server"
        )
        parser.add_argument("--fake", default="http://127.0.0.1:8701", help="the fake Kakao/KakaoPay")
        parser.add_argument("--scenario", action="append", choices=NAMES, help="run only these (repeatable)")
        parser.add_argument("--product", default=DEMO_PRODUCT, help="the product the option scenarios buy")
        parser.add_argument(
            "--api-key", default=os.environ.get("KAKAO_SIMULATE_API_KEY", ""),
            help="the merchant API key (scope orders) the chatbot of scenario 9.2.3 uses; default "
            "$KAKAO_SIMULATE_API_KEY, else a key made for this run and revoked after",
        )  # fmt: skip
        parser.add_argument("--quiet", action="store_true", help="print only scenario and result lines")
        parser.add_argument("--wait-for-server", type=float, default=0, metavar="SECONDS",
                            help="wait this long for the server's /healthz (and the fake) first")  # fmt: skip
        parser.add_argument("--buyers", type=int, help="flash sale: this many concurrent buyers")
        parser.add_argument(
            "--stock", type=int, help="flash sale: units of the product (set before the sale)"
        )
        parser.add_argument(
            "--concurrency", type=int, help="flash sale: at most this many buyers at once (default all)"
        )
        parser.add_argument(
            "--connections", type=int,
            help="flash sale: at most this many connections to our server at once (default 32)",
        )  # fmt: skip
        parser.add_argument("--flash-product", default=FLASH_PRODUCT, help="flash sale: the product's id")
        parser.add_argument(
            "--settle-timeout", type=float, default=30.0,
            help="flash sale: wait this long for orders still approving or refunding before counting",
        )
        parser.add_argument(
            "--t4-interval", type=float, default=0.5, help="seconds between T4 polls (Kakao: 0.5)"
        )

    def handle(self, *args, **o):
        app = KakaoApp.objects.filter(name=o["app"], is_active=True).first()
        if app is None:
            raise CommandError(
                f"no active Kakao app named {o['app']!r} (create one with manage.py kakao_app)"
            )
        load = o["buyers"] is not None or o["stock"] is not None
        if load and (not o["buyers"] or o["buyers"] < 1 or o["stock"] is None or o["stock"] < 0):
            raise CommandError("the flash sale needs --buyers N (≥ 1) and --stock M (≥ 0)")
        target = Target(
            base_url=o["base"].rstrip("/"),
            plugin_key=app.plugin_key,
            fake_url=o["fake"].rstrip("/"),
            rest_api_key=app.rest_api_key,
            api_key=o["api_key"],
            skill_key=getattr(getattr(app, "chatbot_skills", None), "skill_key", ""),
            product_id=o["product"],
            t4_interval=o["t4_interval"],
        )
        printer = Printer(
            self._write, verbose=not o["quiet"], tty=sys.stdout.isatty() and self.stdout._out is sys.stdout
        )
        if o["wait_for_server"]:
            try:
                wait_until_up(target.fake_url, path="/__fake__/health", timeout=o["wait_for_server"])
                wait_until_up(target.base_url, timeout=o["wait_for_server"])
            except TimeoutError as exc:
                raise CommandError(str(exc)) from None
        printer.line(
            f"Kakao simulator → {target.base_url} (Kakao app {app.name}), fake Kakao/KakaoPay {target.fake_url}"
        )

        if load:
            try:
                product = flash_sale_product_set(code=o["flash_product"], stock=o["stock"])
            except StockStillHeld as exc:
                raise CommandError(str(exc)) from None
            printer.line(f"stock of {product.code} ({product.name}) set to {o['stock']}")
            # the run's orders are read back from our database through the merchant API
            keys = simulator_api_key(kakao_app=app) if not target.api_key else nullcontext()
            with keys as made:
                if made is not None:
                    target = dataclasses.replace(target, api_key=made[1])
                report = flash_sale(target, printer, buyers=o["buyers"], stock=o["stock"], product_id=product.code,
                                    concurrency=o["concurrency"], connections=o["connections"],
                                    settle_timeout=o["settle_timeout"])  # fmt: skip
                connection.close()  # the sale may have outlived it (the fault suite restarts PostgreSQL)
            if not report.passed:
                raise CommandError("the flash sale failed: " + "; ".join(report.problems), returncode=1)
            return

        needed = need_merchant_api(o["scenario"])
        keys = simulator_api_key(kakao_app=app) if needed and not target.api_key else nullcontext()
        with keys as made:
            if made is not None:
                key, plain = made
                target = dataclasses.replace(target, api_key=plain)
                printer.line(
                    f"merchant API key kp_{key.prefix}_… (scope orders): made for this run, revoked after it"
                )
            elif needed:
                printer.line("merchant API key: the one given (--api-key / KAKAO_SIMULATE_API_KEY)")
            results = run_scenarios(target, printer, o["scenario"])
        failed = [r.scenario.name for r in results if not r.passed]
        if failed:
            raise CommandError(f"{len(failed)} scenario(s) failed: {', '.join(failed)}", returncode=1)

    def _write(self, text: str) -> None:
        self.stdout.write(text, ending="")
        self.stdout.flush()
