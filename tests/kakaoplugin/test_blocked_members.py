"""Whether a member is blocked (option T2, payment T1 and T2 ask it on every call): read from the
process's copy of the app's blocked members while nothing changed; a committed block or unblock
renews the app's generation in the shared cache, so every process reads it again."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from kakaoplugin.generations import generation
from kakaoplugin.models import Customer
from kakaoplugin.selectors import customer_is_blocked
from kakaoplugin.services import customer_set_blocked


@pytest.mark.django_db(transaction=True)
def test_blocked_members_are_kept_per_process_and_a_committed_change_renews_every_copy(kakao_app):
    member = Customer.objects.create(kakao_app=kakao_app, app_user_id="member-1")
    key = f"kakaoplugin:blocked:{kakao_app.pk}"
    assert not customer_is_blocked(kakao_app=kakao_app, app_user_id="member-1")
    with CaptureQueriesContext(connection) as queries:
        assert not customer_is_blocked(kakao_app=kakao_app, app_user_id="member-1")
        assert not customer_is_blocked(kakao_app=kakao_app, app_user_id="someone-else")
    assert queries.captured_queries == []
    token = generation(key)
    customer_set_blocked(customer=member, blocked=True, reason="fraud")  # committed: renewed after it
    assert generation(key) not in (None, token)
    assert customer_is_blocked(kakao_app=kakao_app, app_user_id="member-1")
    token = generation(key)
    customer_set_blocked(customer=member, blocked=False)
    assert generation(key) not in (None, token)
    assert not customer_is_blocked(kakao_app=kakao_app, app_user_id="member-1")
    assert not customer_is_blocked(kakao_app=kakao_app, app_user_id=None)


@pytest.mark.django_db(transaction=True)
def test_a_new_member_who_is_not_blocked_renews_nothing_and_a_blocked_one_does(kakao_app):
    key = f"kakaoplugin:blocked:{kakao_app.pk}"
    assert not customer_is_blocked(kakao_app=kakao_app, app_user_id="new-1")
    token = generation(key)
    Customer.objects.create(kakao_app=kakao_app, app_user_id="new-1")  # a sign-up: nobody's answer changes
    member = Customer.objects.get(app_user_id="new-1")
    member.save(update_fields=["updated_at"])  # a profile write that is not about blocking
    assert generation(key) == token
    Customer.objects.create(kakao_app=kakao_app, app_user_id="new-2", blocked=True)
    assert generation(key) != token and customer_is_blocked(kakao_app=kakao_app, app_user_id="new-2")


@pytest.mark.django_db(transaction=True)
def test_a_cache_that_does_not_answer_costs_the_timeout_once_then_the_database_answers(kakao_app, settings):
    """Redis gone (nothing listens): no error, the database answers, and for the back-off period no
    call waits on the cache again."""
    import time

    from kakaoplugin import generations
    from tests.support.processes import free_port

    Customer.objects.create(kakao_app=kakao_app, app_user_id="blocked-1", blocked=True)
    settings.CACHE_SOCKET_TIMEOUT_SECONDS = 0.2
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                                   "LOCATION": f"redis://127.0.0.1:{free_port()}/0"}}  # fmt: skip
    try:
        assert customer_is_blocked(kakao_app=kakao_app, app_user_id="blocked-1")
        started = time.monotonic()
        for _ in range(20):
            assert customer_is_blocked(kakao_app=kakao_app, app_user_id="blocked-1")
            assert not customer_is_blocked(kakao_app=kakao_app, app_user_id="someone")
        assert time.monotonic() - started < 2.0  # backing off: no connect attempt per call
    finally:
        generations._down_until = 0.0
