"""ASGI entry point: `gunicorn fintalk.asgi:application -k uvicorn_worker.UvicornWorker`.

Django does not speak the ASGI lifespan protocol, so it is handled here: at worker start the
agent and its Bedrock client are built (the first caller does not pay seconds of imports and
client set-up), and at shutdown the client is closed.
"""
import logging
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fintalk.settings")

django_application = get_asgi_application()
logger = logging.getLogger("fintalk.asgi")


async def _lifespan(receive, send) -> None:
    from agent.agent import get_agent
    from agent.providers import close_providers

    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            try:
                await get_agent()
            except Exception:  # a bad AWS setup must not stop the worker: /readyz and requests report it
                logger.exception("warm-up failed; the agent will be built on the first request")
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await close_providers()
            await send({"type": "lifespan.shutdown.complete"})
            return


async def application(scope, receive, send):
    if scope["type"] == "lifespan":
        await _lifespan(receive, send)
    else:
        await django_application(scope, receive, send)
