"""Gunicorn's access log writes the request path: this logger redacts plugin keys (and the
buyer's browser's tokens, pg_token, code, state) from it."""

from gunicorn.glogging import Logger

from .logging import needs_redaction, redact


class RedactingLogger(Logger):
    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        for key, value in list(atoms.items()):
            if isinstance(value, str) and needs_redaction(value):
                atoms[key] = redact(value)
        return atoms
