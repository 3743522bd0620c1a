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
