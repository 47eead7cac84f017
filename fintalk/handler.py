"""Django's ASGI handler, less the thread a request never needed.

Django closes every response with `await sync_to_async(response.close)()`: `close()` sends
`request_finished`, whose receivers close the database connections of the thread that served
the request's sync code. When a request ran no sync code (a plain streamed turn: authentication,
the loop and the stream all run on the event loop), that thread does not exist yet, and the hop
creates it only to find nothing to close, then shuts its executor down in another thread: two
thread starts per request, measured at about 3% of a turn's CPU. Here the response is closed in
the request's thread when it has one, and inline otherwise. Everything else is Django's.

A fork of Django 5.2.19: `ASGIHandler.handle` below is a copy of Django's, but for its last
lines (`close_response`). On an upgrade, diff Django's `django/core/handlers/asgi.py`
`ASGIHandler.handle` against the copy, carry every change over, re-check that
`SyncToAsync.thread_sensitive_context` and `context_to_thread_executor` (asgiref) still mean what
`_request_thread_started` assumes, then update the pins below. `tests/test_forks.py` fails while
the installed Django or its `handle` differs from what is recorded here.
"""
import asyncio

from asgiref.sync import SyncToAsync, sync_to_async
from django.core import signals
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler as DjangoASGIHandler
from django.core.handlers.asgi import get_script_prefix
from django.urls import set_script_prefix

# What this fork was checked against (tests/test_forks.py): sha256 of `inspect.getsource`, 16 hex digits.
UPSTREAM_VERSIONS = {"Django": "5.2.19"}
UPSTREAM_SOURCES = {"django.core.handlers.asgi:ASGIHandler.handle": "98faeb5bef800331"}


def _request_thread_started() -> bool:
    """Whether this request's ThreadSensitiveContext already runs sync code in a thread of its own."""
    try:
        context = SyncToAsync.thread_sensitive_context.get()
    except LookupError:
        return True  # not inside Django's per-request context: keep Django's behaviour
    return context in SyncToAsync.context_to_thread_executor


async def close_response(response) -> None:
    if _request_thread_started():
        await sync_to_async(response.close)()
    else:
        response.close()  # no connection was opened for this request: nothing to close in a thread


class ASGIHandler(DjangoASGIHandler):
    async def handle(self, scope, receive, send):
        """Django's ASGIHandler.handle (5.2), but for how the response is closed (see close_response)."""
        # Receive the HTTP request body as a stream object.
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        # Request is complete and can be served.
        set_script_prefix(get_script_prefix(scope))
        await signals.request_started.asend(sender=self.__class__, scope=scope)
        # Get the request and check for basic issues.
        request, error_response = self.create_request(scope, body_file)
        if request is None:
            body_file.close()
            await self.send_response(error_response, send)
            await sync_to_async(error_response.close)()
            return

        async def process_request(request, send):
            response = await self.run_get_response(request)
            try:
                await self.send_response(response, send)
            except asyncio.CancelledError:
                # Client disconnected during send_response (ignore exception).
                pass

            return response

        # Try to catch a disconnect while getting response.
        tasks = [
            # Check the status of these tasks and (optionally) terminate them
            # in this order. The listen_for_disconnect() task goes first
            # because it should not raise unexpected errors that would prevent
            # us from cancelling process_request().
            asyncio.create_task(self.listen_for_disconnect(receive)),
            asyncio.create_task(process_request(request, send)),
        ]
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
        # Now wait on both tasks (they may have both finished by now).
        for task in tasks:
            if task.done():
                try:
                    task.result()
                except RequestAborted:
                    # Ignore client disconnects.
                    pass
                except AssertionError:
                    body_file.close()
                    raise
            else:
                # Allow views to handle cancellation.
                task.cancel()
                try:
                    await task
                except asyncio.CancelledError:
                    # Task re-raised the CancelledError as expected.
                    pass

        try:
            response = tasks[1].result()
        except asyncio.CancelledError:
            await signals.request_finished.asend(sender=self.__class__)
        else:
            await close_response(response)

        body_file.close()

