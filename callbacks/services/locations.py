"""Locations from the OTP location answer."""

from __future__ import annotations

from typing import Any

from ..models import CallbackEvent, LocationRecord
from .common import number_value, reported_customer, text_value


def location_record_create(*, event: CallbackEvent, data: dict[str, Any]) -> LocationRecord:
    customer = reported_customer(event)
    record = LocationRecord(event=event, kakao_app=event.kakao_app, customer=customer, relay_id=event.relay_id)
    if data.get("is_usable_user") is False:
        record.usable = False
        record.save()
        return record
    land = data.get("land_address") if isinstance(data.get("land_address"), dict) else {}
    road = data.get("road_address") if isinstance(data.get("road_address"), dict) else None
    record.latitude = number_value(data.get("latitude"))
    record.longitude = number_value(data.get("longitude"))
    record.land_address = land
    record.road_address = road
    record.land_address_name = text_value(land.get("address_name"), 300)
    record.road_address_name = text_value((road or {}).get("address_name"), 300)
    record.zone_no = text_value((road or {}).get("zone_no"), 10)
    record.detail = text_value(data.get("detail"), 300)
    record.usable = record.latitude is not None and record.longitude is not None
    record.save()
    return record
