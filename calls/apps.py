from django.apps import AppConfig


class CallsConfig(AppConfig):
    """Every call on the record: its turns, outcome and latency (recorded off the hot path)."""

    name = "calls"
    default_auto_field = "django.db.models.BigAutoField"
