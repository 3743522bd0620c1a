"""Gunicorn's access log writes the request path: this logger redacts plugin keys from it."""

from gunicorn.glogging import Logger

from .logging import redact


class RedactingLogger(Logger):
    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        for key, value in list(atoms.items()):
            if isinstance(value, str) and ("/plugin/" in value or "/skill/" in value):
                atoms[key] = redact(value)
        return atoms
