"""WSGI entry point, for management tooling only: streaming needs the ASGI server (fintalk.asgi)."""
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fintalk.settings")

application = get_wsgi_application()
