from django.apps import AppConfig


class RehearseConfig(AppConfig):
    """Simulated callers: scenarios, the runner, its stored results and their console pages."""

    name = "rehearse"
    verbose_name = "Rehearsals"
    default_auto_field = "django.db.models.BigAutoField"
