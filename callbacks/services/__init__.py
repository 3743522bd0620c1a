"""Writes of the callbacks app, one module per sub-domain:

- :mod:`.intake`: receive an OTP callback (store, validate, de-duplicate) and process it (fetch the
  OTP URL once, apply the answer);
- :mod:`.profiles`: members' profiles and shipping addresses (the profile plugin, Kakao Sync);
- :mod:`.locations`: the location plugin's answer;
- :mod:`.secure_images`: the secure image plugin's downloads, retries and sweep;
- :mod:`.kakaosync`: Kakao Sync's state and sign-up;
- :mod:`.retention`: the purge of personal data and raw payloads;
- :mod:`.common`: what they share.

The names other code calls are importable from here (``from callbacks import services``).
"""

from .common import TryAgain, ci_hash
from .intake import (
    Received,
    callback_event_fetch_again,
    callback_event_process,
    callback_receive,
    request_headers,
)
from .kakaosync import (
    SignupRefused,
    continue_target,
    kakao_account_fields,
    kakaosync_signup,
    kakaosync_state_issue,
    kakaosync_state_refusal,
)
from .locations import location_record_create
from .profiles import (
    member_profile_upsert,
    profile_apply_callback,
    profile_fields,
    redact_raw_response,
    shipping_address_upsert,
)
from .retention import retention_purge
from .secure_images import (
    SweepResult,
    secure_image_set_create,
    secure_image_set_download,
    secure_image_set_download_again,
    secure_images_sweep,
)

__all__ = [
    "Received",
    "SignupRefused",
    "SweepResult",
    "TryAgain",
    "callback_event_fetch_again",
    "callback_event_process",
    "callback_receive",
    "ci_hash",
    "continue_target",
    "kakao_account_fields",
    "kakaosync_signup",
    "kakaosync_state_issue",
    "kakaosync_state_refusal",
    "location_record_create",
    "member_profile_upsert",
    "profile_apply_callback",
    "profile_fields",
    "redact_raw_response",
    "request_headers",
    "retention_purge",
    "secure_image_set_create",
    "secure_image_set_download",
    "secure_image_set_download_again",
    "secure_images_sweep",
    "shipping_address_upsert",
]
