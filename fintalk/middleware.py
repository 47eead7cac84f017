"""Sessions, users and messages for the console's paths only; the API never passes through them.

Django's SessionMiddleware, AuthenticationMiddleware and MessageMiddleware are sync
(`MiddlewareMixin`): under ASGI each one runs its hooks in a worker thread, a thread hop per
request. The API (bearer keys, no cookies) needs none of them, so they are not in
`settings.MIDDLEWARE`. `ConsoleMiddleware` builds that chain once, around the same
`get_response`, and sends only requests for the console's paths (the admin, the playground, /console/)
through it; every other request goes straight on, at the cost of one `str.startswith`.

CSRF is enforced by the console's views themselves (`csrf_protect`: the admin's views and its
login view carry it, the playground's are decorated, and DRF's SessionAuthentication checks it
for the playground's chat endpoint). Console pages may not be framed.
"""
from asgiref.sync import markcoroutinefunction
from django.conf import settings
from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware
from django.middleware.security import SecurityMiddleware as DjangoSecurityMiddleware

CONSOLE_PATHS = ("/admin/", "/playground/", "/console/")
# Outermost first, in the order Django documents for settings.MIDDLEWARE.
CONSOLE_MIDDLEWARE = (SessionMiddleware, AuthenticationMiddleware, MessageMiddleware)


def is_console_path(path: str) -> bool:
    return path.startswith(CONSOLE_PATHS)


class ConsoleMiddleware:
    async_capable = True
    sync_capable = False

    def __init__(self, get_response):
        self.get_response = get_response
        chain = get_response
        for middleware in reversed(CONSOLE_MIDDLEWARE):
            chain = middleware(chain)  # async get_response: MiddlewareMixin runs in async mode
        self.console = chain
        markcoroutinefunction(self)

    async def __call__(self, request):
        if not is_console_path(request.path_info):
            return await self.get_response(request)
        response = await self.console(request)
        response.headers.setdefault("X-Frame-Options", "DENY")  # what XFrameOptionsMiddleware would add
        return response


class SecurityMiddleware(DjangoSecurityMiddleware):
    """Django's SecurityMiddleware (HSTS, nosniff, referrer policy, COOP, HTTPS redirect), on the event loop,
    plus XFrameOptionsMiddleware's header (settings.X_FRAME_OPTIONS) on every response.

    Its hooks only read settings and set headers, yet as a `MiddlewareMixin` under ASGI each one
    runs in a worker thread: two thread hops on every API request. The same hooks, awaited inline.
    Django's deploy checks of these settings run for it from fintalk/checks.py.
    """

    async def __acall__(self, request):
        response = self.process_request(request) or await self.get_response(request)
        return self.process_response(request, response)

    def process_response(self, request, response):
        response = super().process_response(request, response)
        if not getattr(response, "xframe_options_exempt", False):
            response.headers.setdefault("X-Frame-Options", settings.X_FRAME_OPTIONS)
        return response
