"""The project package as an app, for its system checks (fintalk/checks.py)."""
from django.apps import AppConfig


class FintalkConfig(AppConfig):
    name = "fintalk"

    def ready(self):
        from fintalk import checks  # noqa: F401  (registers them)
