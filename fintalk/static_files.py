"""Static files (the admin's and the playground's) served by whitenoise in front of Django, on ASGI.

`WhiteNoiseMiddleware` is a sync Django middleware: in `settings.MIDDLEWARE` it would put two
thread hops (into a thread, and back to the event loop for the rest of the chain) in front of
every API request. Here whitenoise only builds its file index and its responses (compressed
variants, ETag / 304, ranges, cache headers, all configured from Django's settings as the
middleware would be); the ASGI app below answers requests under STATIC_URL that match a file and
hands everything else to Django untouched. Reading a file runs in a thread, for /static/ only.

Without `collectstatic` (a checkout, the tests) the files come from the apps' own static/
folders (WHITENOISE_USE_FINDERS in settings); the Docker image collects them at build time.

A fork of whitenoise 6.12.0: `StaticFilesApp.__call__`, `find` and `serve` do on ASGI what
`WhiteNoiseMiddleware.__call__` and `serve` do in Django's chain, and rely on its attributes
`static_prefix`, `autorefresh`, `files`, `find_file` and `StaticFile.get_response(method,
headers)`. On an upgrade, diff those two methods and `WhiteNoise.find_file` against what is
recorded below (a new header, a changed lookup), carry the change over, then update the pins.
`tests/test_forks.py` fails while the installed whitenoise or those methods differ from these.
"""
import asyncio
import warnings

from django.conf import settings
from whitenoise.middleware import WhiteNoiseMiddleware

# What this fork was checked against (tests/test_forks.py): sha256 of `inspect.getsource`, 16 hex digits.
UPSTREAM_VERSIONS = {"whitenoise": "6.12.0"}
UPSTREAM_SOURCES = {
    "whitenoise.middleware:WhiteNoiseMiddleware.__call__": "538b06958308b801",
    "whitenoise.middleware:WhiteNoiseMiddleware.serve": "5858d32edfbb9db2",
    "whitenoise.base:WhiteNoise.find_file": "f338d02358b615c5",
}

CHUNK_SIZE = 64 * 1024


def _request_headers(scope) -> dict[str, str]:
    """ASGI headers as the WSGI-style keys whitenoise reads (HTTP_IF_NONE_MATCH, HTTP_RANGE, ...)."""
    return {"HTTP_" + name.decode("latin-1").upper().replace("-", "_"): value.decode("latin-1")
            for name, value in scope["headers"]}


class StaticFilesApp:
    def __init__(self, application):
        self.application = application
        with warnings.catch_warnings():
            # Without collectstatic there is no STATIC_ROOT yet; the finders serve the files then.
            warnings.filterwarnings("ignore", message="No directory at")
            self.whitenoise = WhiteNoiseMiddleware(get_response=None, settings=settings)
        self.prefix = self.whitenoise.static_prefix

    def find(self, path: str):
        if self.whitenoise.autorefresh:
            return self.whitenoise.find_file(path)
        return self.whitenoise.files.get(path)

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["path"].startswith(self.prefix):
            static_file = self.find(scope["path"])
            if static_file is not None:
                await self.serve(static_file, scope, send)
                return
        await self.application(scope, receive, send)

    @staticmethod
    async def serve(static_file, scope, send) -> None:
        response = static_file.get_response(scope["method"], _request_headers(scope))
        headers = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in response.headers]
        await send({"type": "http.response.start", "status": int(response.status), "headers": headers})
        if response.file is None:
            await send({"type": "http.response.body", "body": b""})
            return
        try:
            while True:
                chunk = await asyncio.to_thread(response.file.read, CHUNK_SIZE)
                await send({"type": "http.response.body", "body": chunk, "more_body": bool(chunk)})
                if not chunk:
                    return
        finally:
            response.file.close()
