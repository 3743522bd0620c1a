"""A Kakao simulator: plays Kakao's side against a running server over real HTTP.

It speaks HTTP only and imports nothing of the project's apps (like ``fakekakao``, whose control
client and seeding helpers it uses): everything it knows about the server comes from a
:class:`~simulator.target.Target` (base URL, plugin key, REST API key, the fake's URL, and the
merchant API key the merchant's chatbot uses in scenario 9.2.3).

- :mod:`simulator.scenarios`: the guide's section 9 scenarios (option plugin alone; Kakao Sync +
  option; Kakao Sync + one-click payment; Kakao Sync + option + one-click payment) and the
  personal-information, location and secure-image callbacks, each ending in a PASS/FAIL line.
- :mod:`simulator.load`: the flash sale: N concurrent buyers through the full payment flow, each a
  coroutine of one asyncio loop (:mod:`simulator.aio`: aiohttp, bounded connection pools).
- :mod:`simulator.flows`: the building blocks (what Kakao, KakaoPay and the buyer do), by
  sub-domain; the steps both clients run are written once (:mod:`simulator.steps`).

Run it with ``python manage.py kakao_simulate`` (``demo`` app), which finds the Kakao app's keys
(and makes a merchant API key for the run when none is given).
"""
