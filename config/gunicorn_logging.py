"""Gunicorn's access and error logs go through :func:`kakaoplugin.logging.redact`: the request line,
the path, the query string, the referer and any header a custom format prints (plugin keys,
``pg_token``, Kakao Sync ``code``/``state``, API keys ... are never written)."""

from gunicorn.glogging import Logger

from kakaoplugin.logging import redact_handlers


class RedactingLogger(Logger):
    def setup(self, cfg):
        super().setup(cfg)
        redact_handlers(self.error_log)
        redact_handlers(self.access_log)
