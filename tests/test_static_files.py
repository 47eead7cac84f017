"""Static files answered by whitenoise in front of Django (fintalk/static_files.py), as collected
in the Docker image: gzip variants, ETag / 304, HEAD; misses and other paths reach Django."""
import asyncio
import gzip
import json

import pytest
from django.core.asgi import get_asgi_application
from django.core.management import call_command

from fintalk.static_files import StaticFilesApp


def request(app, path: str, method: str = "GET", headers: dict[str, str] | None = None):
    """One HTTP request to an ASGI app: (status, headers, body)."""
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "",
             "headers": [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()],
             "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000)}
    sent, requested = [], []

    async def receive():
        if not requested:  # the (empty) body once, then the client waits until the response is sent
            requested.append(True)
            return {"type": "http.request", "body": b"", "more_body": False}
        await done.wait()
        return {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)
        if message["type"] == "http.response.body" and not message.get("more_body"):
            done.set()

    async def main():
        nonlocal done
        done = asyncio.Event()
        await app(scope, receive, send)

    done = None
    asyncio.run(main())
    start = sent[0]
    body = b"".join(m.get("body", b"") for m in sent[1:])
    return start["status"], {k.decode(): v.decode() for k, v in start["headers"]}, body


@pytest.fixture
def collected_app(settings, tmp_path):
    settings.STATIC_ROOT = tmp_path / "staticfiles"
    settings.WHITENOISE_USE_FINDERS = False  # production: only what collectstatic gathered
    call_command("collectstatic", "--noinput", verbosity=0)
    return StaticFilesApp(get_asgi_application())


def test_collected_files_are_served_compressed_with_caching_headers(collected_app):
    status, headers, body = request(collected_app, "/static/console/playground.js", headers={"Accept-Encoding": "gzip"})
    assert status == 200 and headers["content-encoding"] == "gzip" and headers["vary"] == "Accept-Encoding"
    assert b"SpeechRecognition" in gzip.decompress(body)
    assert headers["content-type"].startswith("text/javascript") and "max-age" in headers["cache-control"]
    status, _, body = request(collected_app, "/static/console/playground.js", headers={"If-None-Match": headers["etag"]})
    assert (status, body) == (304, b"")
    status, headers, body = request(collected_app, "/static/admin/css/base.css", method="HEAD")
    assert status == 200 and int(headers["content-length"]) > 1000 and body == b""


def test_misses_and_other_paths_reach_django(collected_app):
    status, _, body = request(collected_app, "/static/no-such-file.css")
    assert status == 404 and json.loads(body)["error"]["code"] == "not_found"
    status, _, body = request(collected_app, "/healthz")
    assert (status, json.loads(body)) == (200, {"status": "ok"})


def test_without_collectstatic_the_apps_files_are_served(settings, tmp_path):
    settings.STATIC_ROOT = tmp_path / "never-collected"
    settings.WHITENOISE_USE_FINDERS = True  # what settings choose when STATIC_ROOT is missing
    status, headers, body = request(StaticFilesApp(get_asgi_application()), "/static/console/playground.css")
    assert status == 200 and headers["content-type"].startswith("text/css") and b"#conversation" in body
