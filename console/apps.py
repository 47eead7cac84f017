from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    """The bank's console: the playground page, and the admin site's titles (console/admin.py)."""

    name = "console"
