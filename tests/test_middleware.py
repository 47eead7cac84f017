"""ConsoleMiddleware: sessions and users for console paths; API requests pass with no thread hop.

Django's session, auth and message middleware are sync (MiddlewareMixin): under ASGI each hook
runs through `sync_to_async`, a hop to a worker thread. Every such hop is counted here by
wrapping asgiref's SyncToAsync.__call__ (the real one still runs).
"""
import asyncio

import pytest
from asgiref.sync import SyncToAsync
from django.conf import settings
from django.core.handlers.base import BaseHandler
from django.http import HttpResponse
from django.test import RequestFactory

from fintalk.middleware import ConsoleMiddleware

SYNC_MIDDLEWARE = {
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
}


@pytest.fixture
def thread_hops(monkeypatch):
    hops = []
    original = SyncToAsync.__call__

    async def counted(self, *args, **kwargs):
        hops.append(getattr(self.func, "__qualname__", repr(self.func)))
        return await original(self, *args, **kwargs)

    monkeypatch.setattr(SyncToAsync, "__call__", counted)
    return hops


def run(path: str):
    """One request through a ConsoleMiddleware around a view that reports what it was given."""
    seen = {}

    async def view(request):
        seen.update(session=hasattr(request, "session"), user=hasattr(request, "user"),
                    messages=hasattr(request, "_messages"))
        return HttpResponse("ok")

    middleware = ConsoleMiddleware(view)
    response = asyncio.run(middleware(RequestFactory().get(path)))
    return seen, response


@pytest.mark.parametrize("path", ["/api/chat/completions", "/v1/models", "/healthz", "/readyz", "/metrics",
                                  "/static/admin/css/base.css", "/administrator", "/playground"])
def test_other_paths_skip_the_console_chain_without_a_thread_hop(path, thread_hops):
    seen, response = run(path)
    assert seen == {"session": False, "user": False, "messages": False}
    assert thread_hops == []
    assert "X-Frame-Options" not in response and not response.cookies


@pytest.mark.parametrize("path", ["/admin/", "/admin/bank/card/", "/playground/", "/playground/chat/completions"])
def test_console_paths_get_session_user_and_messages(path, thread_hops):
    seen, response = run(path)
    assert seen == {"session": True, "user": True, "messages": True}
    assert thread_hops  # the price of the sync middleware, paid on console paths only
    assert response["X-Frame-Options"] == "DENY"


def test_the_sync_console_middleware_is_not_in_settings():
    assert "fintalk.middleware.ConsoleMiddleware" in settings.MIDDLEWARE
    assert SYNC_MIDDLEWARE.isdisjoint(settings.MIDDLEWARE)
    # Django's checks that look for them in MIDDLEWARE are silenced.
    assert {"admin.E408", "admin.E409", "admin.E410", "security.W003"} <= set(settings.SILENCED_SYSTEM_CHECKS)


def test_the_configured_middleware_chain_adds_no_thread_hop(thread_hops):
    """settings.MIDDLEWARE as Django chains it under ASGI, around an async view: no thread hop.
    A sync-only middleware anywhere in it (ours included) would be wrapped in two."""
    handler = BaseHandler()
    handler.load_middleware(is_async=True)
    response = asyncio.run(handler.get_response_async(RequestFactory().get("/healthz")))
    assert response.status_code == 200 and thread_hops == []
