"""The fake KakaoPay: ready, approve, cancel, order (inquiry), subscription, inactive, status, for
both API generations (CONTRACTS section 7), keeping state per tid.

- legacy ``/v1/payment/...``: ``Authorization: KakaoAK <key>``, form body; errors
  ``{"code": -780, "msg": ..., "extras": {...}}``;
- open ``/online/v1/payment/...``: ``Authorization: SECRET_KEY <key>``, JSON body; errors
  ``{"error_code": ..., "error_message": ..., "extras": {...}}``.

The buyer's side (what Kakao's payment sheet does) is simulated by
``POST /kakaopay-sim/authorize`` with ``tid`` and ``result`` ok|cancel|fail: it moves the tid past
password authentication and answers the ``pg_token`` with the approval redirect URL.

Faults (armed with ``POST /__fake__/faults``, op ``approve``, ``cancel``, ``order``, ``ready``...):
``decline`` (4xx -780 with ``message`` as ``extras.method_result_message``), ``error500`` (500,
nothing done), ``delay`` (do the work, then answer after ``delay`` seconds: past the caller's
timeout; ``"when": "before"`` waits first), ``lost`` (do the work, then close the connection
without answering), ``alter`` (do the work, then answer with the top-level fields in ``set``
replaced: an answer that is not about the payment that was asked, e.g. another
``partner_order_id``), ``trickle`` (do the work, then send the whole answer, status line and headers
included, one byte every ``interval`` seconds (default 0.2): each byte comes well within a read
timeout, the whole takes far longer than any deadline; ``"when": "before"`` holds the call open
first for ``hold`` seconds (default 15) by trickling ``100 Continue`` lines byte by byte, does the
work only then (or as soon as the caller hangs up: KakaoPay acts on a request whose caller left),
and answers at once).  Every trickle is recorded in the state (``kakaopay.trickles``: op, tid, when
it started, when the caller hung up, when it ended).

Approve refusals carry KakaoPay's legacy codes: ``-721`` unknown tid, ``-706`` / ``-707``
partner_order_id / partner_user_id not the tid's, ``-702`` already approved, ``-701`` not
authenticated yet, ``-708`` invalid pg_token.  A pg_token that is not the one issued for the tid is
refused as a bad request (400, ``-708`` / open ``INVALID_PG_TOKEN``, no method result: nothing was
declined) and changes nothing: the tid stays in AUTH_PASSWORD, and the genuine pg_token still
approves it.

Subscriptions (정기결제): approve on a subscription CID (``TCSUB...``) issues a ``sid`` (status
``ISSUED_SID`` when the first amount is 0); ``subscription`` charges an active sid (a new tid each
call, and the sid's ``last_approved_at``), ``inactive`` ends it, ``status`` reports it; the order
inquiry of a tid carries its ``sid``.  Faults work on ops ``subscription``, ``inactive`` and
``subscription_status`` too (e.g. ``decline`` a charge).

Modules: :mod:`.common` (both API generations' auth, errors and parameters), :mod:`.faults` (the
armed faults around the work), :mod:`.payments` (ready, the buyer's authorization, approve, order,
cancel), :mod:`.subscriptions` (subscription charges, inactive, status).
"""

from . import payments, subscriptions  # noqa: F401  (their routes register on import)
