"""Per-API-key rate limiting, counted in Django's cache (shared by all workers with Redis).

FINTALK_RATE_LIMIT is DRF's rate syntax ("600/min", "20/s"); it is "off" unless an operator sets
it, because a voice platform sends every call of a bank through one key (size it as concurrent
calls x turns per minute x headroom). Over the limit a client gets a 429 `rate_limit_exceeded`
with Retry-After (the openai SDK waits and retries); a voice call instead hears a short spoken
"busy" answer (`api.views.ChatCompletionsView.throttled`), since Vapi cannot speak a 429.

With the cache (Redis) unreachable the limit fails open: the request goes through, and the
outage is logged and counted (core/degraded.py) — refusing every call of a bank because a
counter is out of reach would be worse than an uncounted minute.
"""
from django.conf import settings
from rest_framework.throttling import SimpleRateThrottle

from core.degraded import CACHE_ERRORS, degraded


class ApiKeyRateThrottle(SimpleRateThrottle):
    scope = "api_key"

    def get_rate(self):
        rate = settings.FINTALK_RATE_LIMIT
        return None if rate in ("", "off") else rate

    def get_cache_key(self, request, view):
        label = getattr(request.user, "label", None)
        if not label or settings.FINTALK_AUTH == "disabled":
            label = "ip:" + self.get_ident(request)
        return f"fintalk:throttle:{label}"

    def allow_request(self, request, view):
        try:
            return super().allow_request(request, view)
        except CACHE_ERRORS as exc:
            degraded("cache", "rate_limit_open", exc)
            return True
