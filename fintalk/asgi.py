"""ASGI entry point: `gunicorn fintalk.asgi:application -k uvicorn_worker.UvicornWorker`.

Django does not speak the ASGI lifespan protocol, so it is handled here: at worker start the
agent's tool specs and its Bedrock client are built (the first caller does not pay seconds of
imports and client set-up), and at shutdown the client is closed. Django's handler is ours
(fintalk/handler.py) so that a request that runs no sync code gets no thread. A request that
starts an agent turn first takes its place at the worker's door (agent/starts.py), so that in a
burst turns start in the order they came.
"""
import gc
import logging
import os
import re

import django
from django.core import signals
from django.db import close_old_connections, reset_queries

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fintalk.settings")
django.setup(set_prefix=False)  # what django.core.asgi.get_asgi_application() does, with our handler

from fintalk.handler import ASGIHandler  # noqa: E402  (after setup: it loads the middleware)
from fintalk.static_files import StaticFilesApp  # noqa: E402

django_application = ASGIHandler()
# Under ASGI every request runs its sync code in a thread of its own, so at request start there is
# no old database connection to close and no query log to reset: those two receivers would only
# cost a thread hop on every request. (request_finished still closes what a request opened.)
signals.request_started.disconnect(close_old_connections)
signals.request_started.disconnect(reset_queries)
# /static/ (the console's CSS and JS) is answered by whitenoise before Django; see fintalk/static_files.py.
django_application = StaticFilesApp(django_application)
logger = logging.getLogger("fintalk.asgi")


async def _lifespan(receive, send) -> None:
    from agent import bedrock
    from agent.loop import warm_up
    from core.drain import drain_on_sigterm

    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            drain_on_sigterm()  # /readyz answers 503 once SIGTERM starts the drain
            try:
                await warm_up()
            except Exception:  # a bad AWS setup must not stop the worker: /readyz and requests report it
                logger.exception("warm-up failed; the agent will be built on the first request")
            # What start-up built (Django, LlamaIndex, botocore's models: ~190k objects) lives as long as
            # the worker: out of the collector's reach, a full collection no longer stalls every stream
            # (measured: p99 added TTFT at 75 open-loop calls went from 199 ms to 18 ms).
            gc.collect()
            gc.freeze()
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await bedrock.close()
            await send({"type": "lifespan.shutdown.complete"})
            return


# The endpoints that start an agent turn (api/urls.py under /api/ and /v1/).
_STARTS_A_TURN = re.compile(r"^/(?:api|v1)/(?:chat/completions|responses|completions|agent/query(?:/openai)?)/?$")


async def application(scope, receive, send):
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
    elif scope["type"] == "http" and scope["method"] == "POST" and _STARTS_A_TURN.match(scope["path"]):
        from agent import starts

        await starts.enter()
        try:
            await django_application(scope, receive, send)
        finally:
            starts.started()  # a request that never reached its Bedrock call (a 400, say) gives its place up
    else:
        await django_application(scope, receive, send)
