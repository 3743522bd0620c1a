"""The language of the pages a person reads: Korean by default, English by the browser's
``Accept-Language`` or the admin header's switch (Django's ``set_language``, a cookie).

Only on the paths a merchant or a staff member reads (the admin, the language switch, the merchant
API). Plugin paths, the buyer's browser pages (``/pay/``, ``/sync/``) and the chatbot skills keep
``LANGUAGE_CODE`` (Korean) whatever the request asks: Kakao shows their messages to buyers. The
two hot reads (option T1, payment T4) are answered by the gate above this middleware and never
reach it; on the other paths it costs one ``startswith``.

After a person's request the thread goes back to the default language, so that a request that
follows on the same thread (a plugin call) never inherits an English page's language.
"""

from __future__ import annotations

from django.middleware.locale import LocaleMiddleware
from django.utils import translation

PERSON_PATHS = ("/admin/", "/i18n/", "/api/")


class PersonLocaleMiddleware(LocaleMiddleware):
    def __call__(self, request):
        if not request.path_info.startswith(PERSON_PATHS):
            return self.get_response(request)
        try:
            return super().__call__(request)
        finally:
            translation.deactivate()
