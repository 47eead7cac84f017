"""The async APIView every endpoint uses: DRF's request cycle without a thread hop per request.

adrf runs DRF's whole `initial()` (negotiation, authentication, permissions, throttles) through
`sync_to_async`, and sync authenticators inside that through `async_to_sync`: two thread hops
per request, measured at about a third of a streamed turn's fixed CPU under load. Here `initial`
runs on the event loop: an authenticator with `aauthenticate` is awaited (checking an API key
held in memory needs no thread; only a key issued in the database is looked up in one), and
throttles, which may talk to Redis, run in a thread only when a rate limit is set.

A fork of adrf 0.1.14 and DRF 3.18.3: `async_dispatch` is adrf's `APIView.async_dispatch`,
`ainitial` is DRF's `APIView.initial` and `aauthenticate` is adrf's `AsyncRequest._authenticate`,
each awaited instead of run through a thread. On an upgrade of either, re-read those three
upstream functions and carry over what changed (a new step in `initial`, a new hook in dispatch,
how a method not allowed is answered); then update the pins below. `tests/test_forks.py` fails
while the installed versions or those functions' sources differ from what is recorded here.
"""
from adrf.views import APIView as AsyncAPIView
from asgiref.sync import sync_to_async
from rest_framework import exceptions

# What this fork was checked against (tests/test_forks.py): package versions, and a hash of each
# upstream function it copies (sha256 of `inspect.getsource`, first 16 hex digits).
UPSTREAM_VERSIONS = {"djangorestframework": "3.18.3", "adrf": "0.1.14"}
UPSTREAM_SOURCES = {
    "adrf.views:APIView.async_dispatch": "5926f734eb685633",
    "rest_framework.views:APIView.initial": "49a4a966fb04ec8a",
    "adrf.requests:AsyncRequest._authenticate": "3a3b56dd7c515e93",
}


class APIView(AsyncAPIView):
    async def async_dispatch(self, request, *args, **kwargs):
        self.args, self.kwargs = args, kwargs
        request = self.initialize_request(request, *args, **kwargs)
        self.request = request
        self.headers = self.default_response_headers
        try:
            await self.ainitial(request, *args, **kwargs)
            handler = getattr(self, request.method.lower(), None) \
                if request.method.lower() in self.http_method_names else None
            if handler is None:
                raise exceptions.MethodNotAllowed(request.method)
            response = await handler(request, *args, **kwargs)
        except Exception as exc:
            response = self.handle_exception(exc)
        self.response = self.finalize_response(request, response, *args, **kwargs)
        return self.response

    async def ainitial(self, request, *args, **kwargs) -> None:
        """DRF's `initial()`, awaited: the same steps in the same order."""
        self.format_kwarg = self.get_format_suffix(**kwargs)
        request.accepted_renderer, request.accepted_media_type = self.perform_content_negotiation(request)
        request.version, request.versioning_scheme = self.determine_version(request, *args, **kwargs)
        await self.aauthenticate(request)
        self.check_permissions(request)
        # A rate-based throttle with no rate set (FINTALK_RATE_LIMIT off, the default) allows everything.
        if any(getattr(throttle, "rate", True) is not None for throttle in self.get_throttles()):
            await sync_to_async(self.check_throttles)(request)

    @staticmethod
    async def aauthenticate(request) -> None:
        """Request._authenticate(), awaiting authenticators that can be awaited."""
        for authenticator in request.authenticators:
            try:
                if hasattr(authenticator, "aauthenticate"):
                    result = await authenticator.aauthenticate(request)
                else:
                    result = await sync_to_async(authenticator.authenticate)(request)
            except exceptions.APIException:
                request._not_authenticated()
                raise
            if result is not None:
                request._authenticator = authenticator
                request.user, request.auth = result
                return
        request._not_authenticated()
