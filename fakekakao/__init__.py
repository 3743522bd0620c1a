"""A local fake of Kakao and KakaoPay for tests, the demo and the simulator (HTTP only)."""
