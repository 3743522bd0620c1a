"""Plugin keys are secrets: no log line carries one. Nor do the buyer's browser's one-time secrets:
the order's token in a ``/pay/`` path, KakaoPay's ``pg_token``, Kakao Sync's ``code`` and ``state``."""

import logging
import re

PLUGIN_KEY_IN_PATH = re.compile(r"/plugin/[^/\s?\"']+")
REDACTED = "/plugin/<key>"
# /pay/<partner_order_id>/<action>/<token>: the token authorises the buyer's browser.
PAY_TOKEN_IN_PATH = re.compile(r"(/pay/[^/\s?\"']+/[^/\s?\"']+/)[^/\s?&#\"']+")
SECRET_PARAMS = re.compile(r"([?&](?:pg_token|code|state)=)[^&\s\"'#]*")
TRIGGERS = ("/plugin/", "/pay/", "pg_token=", "code=", "state=")


def needs_redaction(text: str) -> bool:
    return any(t in text for t in TRIGGERS)


def redact(text: str) -> str:
    text = PLUGIN_KEY_IN_PATH.sub(REDACTED, text)
    text = PAY_TOKEN_IN_PATH.sub(r"\1<token>", text)
    return SECRET_PARAMS.sub(r"\1***", text)


class RedactPluginKeyFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string is not ours to fix here
            return True
        if needs_redaction(message):
            record.msg = redact(message)
            record.args = None
        return True
