"""Settings, all read from the environment (docs/operations.md lists them).

With nothing set this is the embedded default: a SQLite file under ``var/``, Celery tasks run by a
worker on a broker kept in a folder under ``var/`` (no server), DEBUG on.  Production is
``DEBUG=false`` with ``SECRET_KEY``, ``FIELD_ENCRYPTION_KEY``, ``DATABASE_URL``, ``REDIS_URL`` and
``ALLOWED_HOSTS`` set: nothing secret has a default there.

``DJANGO_SETTINGS_MODULE=config.settings`` reads every module below, in this order (a later module
may use an earlier one's names):

- ``base``: the environment, secrets, apps, middleware, database, templates, static files;
- ``security``: production behind a TLS proxy, trusted proxies, admin logins, request limits;
- ``celery``: Redis, the cache, the Celery broker and its task semantics, beat, the outbox;
- ``logging``: the structured, redacted logs and metrics;
- ``api``: Django REST framework, the OpenAPI schema, the merchant API;
- ``kakao``: Kakao and KakaoPay, the plugin gate, payments, subscriptions, catalog, callbacks.
"""

from .base import *  # noqa: F403, I001  (in the order above)
from .security import *  # noqa: F403
from .celery import *  # noqa: F403
from .logging import *  # noqa: F403
from .api import *  # noqa: F403
from .kakao import *  # noqa: F403
