"""No log line carries a secret (docs/security.md, "Logs").

:func:`redact` is applied to every line our handlers write (Django's and runserver's through
``LOGGING``, gunicorn's access and error logs through :mod:`config.gunicorn_logging`, the
Celery worker's through ``config.celery``), the message and any traceback alike:

- the path segment after ``/plugin/`` (the plugin key) → ``/plugin/<key>`` (and after any other
  prefix in :data:`SECRET_PATH_SEGMENTS`);
- one-time and long-lived secrets in query strings, form bodies and JSON-ish text: ``pg_token``,
  Kakao Sync's ``code`` and ``state``, ``token`` (and any ``*_token``), ``rest_api_key``,
  ``client_secret``, ``password`` ... → ``name=<redacted>``;
- ``Authorization`` values (``Bearer``, ``KakaoAK``, ``SECRET_KEY``, ``DEV_SECRET_KEY``, ``Basic``)
  and merchant API keys (``kp_<prefix>_<secret>``, the prefix kept to tell keys apart);
- the buyer's browser token of ``/pay/<order>/<action>/<token>``;
- OTP URL tokens (``/otp/<token>/``) and Korean mobile numbers (``010-1234-5678``, ``+82 10 ...``).

A percent-encoded form (``/%70lugin/<key>``, ``pg%5Ftoken=``) is decoded before matching, so it
cannot slip past: a chunk of text with ``%xx`` escapes that hides a secret is written decoded and
redacted. Names and addresses have no recognisable shape: the code never logs them (a test runs
every simulator scenario and scans all the logs it produced for each secret and personal value).
"""

from __future__ import annotations

import logging
import re
import urllib.parse

REDACTED = "<redacted>"

SECRET_NAMES = (
    r"pg_token|code|state|token|[a-z_]*_token|rest_api_key|api_key|admin_key|secret_key|cid_secret"
    r"|client_secret|secret|password|passwd|sid|otp|signature|credential"
)
# A path segment after one of these is a secret: ``/plugin/<key>/...``. A browser path that carries
# its token in the path rather than the query adds its prefix here (e.g. ``"pay": "<token>"``).
SECRET_PATH_SEGMENTS: dict[str, str] = {"plugin": "<key>", "skill": "<key>"}  # plugin key, chatbot skill key
SECRET_IN_PATH = re.compile(
    r"/(" + "|".join(map(re.escape, SECRET_PATH_SEGMENTS)) + r")/[^/\s?#\"'<>]+", re.IGNORECASE
)
QUERY_SECRET = re.compile(r"(?i)([?&;]|^|(?<=[\s\"'(,{\[]))((?:" + SECRET_NAMES + r")=)[^&\s\"'#<>]+")
JSON_SECRET = re.compile(r"(?i)([\"']?(?:" + SECRET_NAMES + r")[\"']?\s*:\s*[\"'])[^\"']*")
AUTH_VALUE = re.compile(r"(?i)\b(Bearer|KakaoAK|SECRET_KEY|DEV_SECRET_KEY|Basic)\s+[A-Za-z0-9._~+/=\-]+")
API_KEY = re.compile(r"\b(kp_[0-9a-f]{6,})_[A-Za-z0-9_\-]+")
OTP_TOKEN = re.compile(r"/otp/[^/\s?#\"']+")
# /pay/<partner_order_id>/<action>/<token>: the token authorises the buyer's browser (orders.pay_links)
PAY_TOKEN = re.compile(r"(/pay/[^/\s?#\"']+/[^/\s?#\"']+/)[^/\s?&#\"'<>]+", re.IGNORECASE)
MOBILE = re.compile(r"(?<![0-9])(?:\+82[\s-]?0?1[016789]|01[016789])[\s-]?[0-9]{3,4}[\s-]?[0-9]{4}(?![0-9])")
ENCODED_CHUNK = re.compile(r"[^\s\"'<>]*%[0-9A-Fa-f]{2}[^\s\"'<>]*")


def _redact_plain(text: str) -> str:
    text = SECRET_IN_PATH.sub(lambda m: f"/{m.group(1)}/{SECRET_PATH_SEGMENTS[m.group(1).lower()]}", text)
    text = OTP_TOKEN.sub("/otp/<token>", text)
    text = PAY_TOKEN.sub(r"\1<token>", text)
    text = AUTH_VALUE.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
    text = API_KEY.sub(lambda m: f"{m.group(1)}_{REDACTED}", text)
    text = QUERY_SECRET.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)
    text = JSON_SECRET.sub(lambda m: f"{m.group(1)}{REDACTED}", text)
    return MOBILE.sub("<phone>", text)


def _decoded(chunk: str) -> str:
    for _ in range(3):  # double and triple encodings too
        plain = urllib.parse.unquote(chunk, errors="replace")
        if plain == chunk:
            break
        chunk = plain
    return chunk


def redact(text: str) -> str:
    """``text`` without secrets (see the module's docstring)."""
    if "%" in text:

        def decode_if_secret(match: re.Match) -> str:
            chunk = match.group(0)
            plain = _decoded(chunk)
            cleaned = _redact_plain(plain)
            return cleaned if cleaned != plain else chunk

        text = ENCODED_CHUNK.sub(decode_if_secret, text)
    return _redact_plain(text)


class RedactPluginKeyFilter(logging.Filter):
    """Redacts the record's message (for handlers whose formatter is not :class:`RedactingFormatter`).
    The name is historical: it redacts every secret :func:`redact` knows."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string is not ours to fix here
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg = cleaned
            record.args = None
        return True


class RedactingFormatter(logging.Formatter):
    """A formatter whose whole output (message, traceback, stack) goes through :func:`redact`."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class RedactingWrapper(logging.Formatter):
    """Wraps a formatter someone else configured (gunicorn's, Celery's): its output, redacted."""

    def __init__(self, inner: logging.Formatter | None):
        super().__init__()
        self.inner = inner or logging.Formatter()

    def format(self, record: logging.LogRecord) -> str:
        return redact(self.inner.format(record))


def redact_handlers(logger: logging.Logger) -> None:
    """Make every handler of ``logger`` write redacted lines (idempotent)."""
    for handler in logger.handlers:
        if not isinstance(handler.formatter, RedactingWrapper | RedactingFormatter):
            handler.setFormatter(RedactingWrapper(handler.formatter))
