"""ASGI entry point: `gunicorn fintalk.asgi:application -k uvicorn_worker.UvicornWorker`."""
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fintalk.settings")

application = get_asgi_application()
