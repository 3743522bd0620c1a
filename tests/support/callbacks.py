"""Helpers of the callbacks tests (not a test module): the guide's samples, typos corrected, and
posting a callback the way Kakao does."""

from __future__ import annotations

import json

PROFILE_SAMPLE = {
    "nickname": "lukas",
    "profile_image_url": "https://t1.kakaocdn.net/kakaocorp/admin/main-banner/123",
    "phone_number": "+86 10-0000-0000",
    "email": "xxxxx@xxxxxxx.xxx",
    "shipping_address": {
        "id": "AAAAAA",
        "base_address": "경기도 성남시 분당구",
        "detail_address": "H스퀘어 6층",
        "receiver_name": "lukas",
        "receiver_mobile_number": "+86 10-0000-0000",
        "post_no": "111111",
        "zone_code": "22222",
    },
    "age_range": "30~49",
    "birthyear": "19XX",
    "birthday": "XXXX",
    "gender": "male",
    "ci": "xxxxxxxxxxxxxxxxxxxxxxxx/XXXXXXXXXXXXXXXXXXXXXXXXXXXX",
    "ci_authenticated_at": "2017-01-20T04:37:26Z",
    "app_user_id": 10000000,
}

LOCATION_SAMPLE = {
    "latitude": 37.40201073377386,
    "longitude": 127.10849451749681,
    "land_address": {
        "address_name": "경기 성남시 분당구 삼평동 681",
        "region_1depth_name": "경기",
        "region_2depth_name": "성남시 분당구",
        "region_3depth_name": "삼평동",
        "mountain_yn": "N",
        "main_address_no": "681",
        "sub_address_no": "",
    },
    "road_address": {
        "address_name": "경기도 성남시 분당구 판교역로 235",
        "region_1depth_name": "경기",
        "region_2depth_name": "성남시 분당구",
        "region_3depth_name": "",
        "road_name": "판교역로",
        "underground_yn": "N",
        "main_building_no": "235",
        "sub_building_no": "",
        "building_name": "에이치스퀘어 엔동",
        "zone_no": "13494",
    },
    "detail": "8층 카카오",
}

# The guide's secure-image sample (URLs joined back onto one line, trailing comma removed).
SECURE_IMAGE_SAMPLE = {
    "secure_urls": [
        {
            "original": "http://k.kakaocdn.net/dna/csiHlu/blcfc1CRkm4/XXX/img.jpg?credential=ADCBOp2Gfc79BBRHLcqUsl7hwkvH0c8z&expires=1579679355000&allow_ip=&allow_referer=&signature=FCIVBHx%2FIh8%2BiiazJBcse2xsgk%3D",
            "img_1m": "http://k.kakaocdn.net/dna/csiHlu/blcfc1CRkm4/XXX/img_1m.jpg?credential=ADCBOp2Gfc79BBRHLcqUsl7hwkvH0c8z&expires=1579679355000&allow_ip=&allow_referer=&signature=ZeoQdXIQMmLBVz3dcgQlgy9m9TA%3D",
            "img_3m": "http://k.kakaocdn.net/dna/csiHlu/blcfc1CRkm4/XXX/img_3m.jpg?credential=ADCBOp2Gfc79BBRHLcqUsl7hwkvH0c8z&expires=1579679355000&allow_ip=&allow_referer=&signature=J%2FI%2BuShUbjKEwzj7QIC5sVVhbGc%3D",
        },
        {
            "original": "http://k.kakaocdn.net/dna/bp17UZ/blcfyl1IQI5/XXX/img.jpg?credential=ADCBOp2Gfc79BBRHLcqUsl7hwkvH0c8z&expires=1579679355000&allow_ip=&allow_referer=&signature=WFciDhGmknd1MTqQnJpc9nyvR%2Fk%3D",
            "img_1m": "http://k.kakaocdn.net/dna/bp17UZ/blcfyl1IQI5/XXX/img_1m.jpg?credential=ADCBOp2Gfc79BBRHLcqUsl7hwkvH0c8z&expires=1579679355000&allow_ip=&allow_referer=&signature=azCn%2BI84z5yzeYrt8d4eRTgb%2Baw%3D",
            "img_3m": "http://k.kakaocdn.net/dna/bp17UZ/blcfyl1IQI5/XXX/img_3m.jpg?credential=ADCBOp2Gfc79BBRHLcqUsl7hwkvH0c8z&expires=1579679355000&allow_ip=&allow_referer=&signature=mDhkpuvrEYRcj50XdYwycyMkDAo%3D",
        },
    ],
    "expire": "2020-01-22T07:49:15Z",
}

PATHS = {
    "onetimeprofile": "callbacks/profile",
    "current_location": "callbacks/location",
    "secure_image": "callbacks/secure-image",
}


def post_callback(client, plugin_base: str, kind: str, otp_url, *, relay_id: str | None = "relay-1", app_user_id: str | None = None, extra: dict | None = None, raw: bytes | None = None):
    body = raw if raw is not None else json.dumps({"otp": otp_url, **(extra or {})}, ensure_ascii=False).encode()
    headers = {}
    if relay_id:
        headers["HTTP_X_KAKAO_PLUGIN_RELAY_ID"] = relay_id
    if app_user_id:
        headers["HTTP_X_KAKAO_APPUSERID"] = app_user_id
    return client.post(plugin_base + PATHS[kind], data=body, content_type="application/json", **headers)


def run_fetch(event_id: int):
    """Run the fetch task in this process (eagerly, with its retries), as a worker would."""
    from callbacks.tasks import fetch_callback

    return fetch_callback.apply(args=[event_id])


def run_downloads(image_set_id: int):
    from callbacks.tasks import download_secure_images

    return download_secure_images.apply(args=[image_set_id])
