"""Admin: personal data masked unless the staff user has the dedicated permission."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission, User
from django.utils import timezone

from callbacks.models import (
    CallbackEvent,
    LocationRecord,
    MemberProfile,
    SecureImage,
    SecureImageSet,
    ShippingAddress,
)
from fakekakao.kakao import png
from kakaoplugin.models import Customer

pytestmark = pytest.mark.django_db

PHONE = "+82 10-1234-5678"
EMAIL = "hong.gildong@example.com"


@pytest.fixture
def member(kakao_app, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    customer = Customer.objects.create(kakao_app=kakao_app, app_user_id="4321")
    MemberProfile.objects.create(
        customer=customer, nickname="홍길동", phone_number=PHONE, email=EMAIL, source="callback", collected_at=timezone.now()
    )
    ShippingAddress.objects.create(customer=customer, base_address="서울특별시 강남구 테헤란로 1", receiver_name="홍길동", collected_at=timezone.now())
    event = CallbackEvent.objects.create(
        kind="secure_image", kakao_app=kakao_app, relay_id="rel-9", status="processed", customer=customer,
        raw_response={"secure_urls": [], "expire": "2030-01-01T00:00:00Z", "nickname": "홍길동"},
    )  # fmt: skip
    loc_event = CallbackEvent.objects.create(kind="current_location", kakao_app=kakao_app, status="processed", customer=customer)
    LocationRecord.objects.create(event=loc_event, kakao_app=kakao_app, customer=customer, latitude=37.123456, longitude=127.5, land_address_name="경기 성남시 분당구 삼평동 681")
    image_set = SecureImageSet.objects.create(event=event, kakao_app=kakao_app, customer=customer, status="complete")
    image = SecureImage(image_set=image_set, position=0, size="original", status="stored", content_type="image/png")
    from django.core.files.base import ContentFile

    image.file.save(".png", ContentFile(png()), save=True)
    return customer


def _staff(perms=()):
    user = User.objects.create_user("staff", password="pw", is_staff=True)
    names = ["view_customer", "view_memberprofile", "view_shippingaddress", "view_consent", "view_callbackevent", "view_locationrecord", "view_secureimageset", "view_secureimage", *perms]
    user.user_permissions.set(Permission.objects.filter(codename__in=names))
    return user


def test_masked_without_permission(client, member):
    client.force_login(_staff())
    pages = [
        client.get("/admin/callbacks/memberprofile/").content.decode(),
        client.get(f"/admin/callbacks/memberprofile/{member.profile.pk}/change/").content.decode(),
        client.get(f"/admin/kakaoplugin/customer/{member.pk}/change/").content.decode(),
        client.get(f"/admin/callbacks/callbackevent/{member.callback_events.get(kind='secure_image').pk}/change/").content.decode(),
        client.get(f"/admin/callbacks/locationrecord/{member.locations.get().pk}/change/").content.decode(),
    ]
    for page in pages:
        assert PHONE not in page and EMAIL not in page and "홍길동" not in page
        assert "테헤란로" not in page and "삼평동" not in page and "37.123456" not in page
    assert "*-5678" in pages[0] and "ho***@example.com" in pages[0]
    assert "“개인정보 보기” 권한이 필요합니다" in pages[2] and "서울특별시 ***" in pages[2]  # thumbnails hidden, address masked
    image = SecureImage.objects.get()
    assert client.get(f"/admin/callbacks/secureimage/{image.pk}/file/").status_code == 403


def test_full_with_permission_but_lists_stay_masked(client, member):
    client.force_login(_staff(["view_personal_data"]))
    listing = client.get("/admin/callbacks/memberprofile/").content.decode()
    assert PHONE not in listing and "*-5678" in listing
    detail = client.get(f"/admin/callbacks/memberprofile/{member.profile.pk}/change/").content.decode()
    assert PHONE in detail and EMAIL in detail
    member_page = client.get(f"/admin/kakaoplugin/customer/{member.pk}/change/").content.decode()
    assert "테헤란로" in member_page and "삼평동" in member_page
    image = SecureImage.objects.get()
    assert f"/admin/callbacks/secureimage/{image.pk}/file/" in member_page  # a thumbnail
    r = client.get(f"/admin/callbacks/secureimage/{image.pk}/file/")
    assert r.status_code == 200 and r["Content-Type"] == "image/png"
    assert b"".join(r.streaming_content).startswith(b"\x89PNG")


def test_event_changelist_filters(admin_client, member, kakao_app):
    for query in ("kind__exact=secure_image", "status__exact=processed", f"kakao_app__id__exact={kakao_app.pk}", "q=rel-9"):
        r = admin_client.get(f"/admin/callbacks/callbackevent/?{query}")
        assert r.status_code == 200, query
        assert "rel-9" in r.content.decode()
    r = admin_client.get("/admin/callbacks/callbackevent/?kind__exact=onetimeprofile")
    assert "rel-9" not in r.content.decode()
    # links to what each event produced
    assert "/admin/callbacks/secureimageset/" in admin_client.get("/admin/callbacks/callbackevent/").content.decode()


def test_event_log_is_read_only(admin_client, member):
    event = CallbackEvent.objects.first()
    assert admin_client.get("/admin/callbacks/callbackevent/add/").status_code == 403
    assert admin_client.post(f"/admin/callbacks/callbackevent/{event.pk}/delete/", {"post": "yes"}).status_code == 403
    assert CallbackEvent.objects.filter(pk=event.pk).exists()
