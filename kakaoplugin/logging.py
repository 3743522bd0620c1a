"""Plugin keys are secrets: no log line carries one."""

import logging
import re

PLUGIN_KEY_IN_PATH = re.compile(r"/(plugin|skill)/[^/\s?\"']+")
REDACTED = r"/\1/<key>"


def redact(text: str) -> str:
    """Plugin keys and chatbot skill keys (``/skill/<key>/...``) out of a log line."""
    return PLUGIN_KEY_IN_PATH.sub(REDACTED, text)


class RedactPluginKeyFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string is not ours to fix here
            return True
        if "/plugin/" in message or "/skill/" in message:
            record.msg = redact(message)
            record.args = None
        return True
