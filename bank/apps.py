from django.apps import AppConfig
from django.conf import settings
from django.core import checks


class BankConfig(AppConfig):
    name = "bank"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # Declares them, in the order the model is offered them (a stable order keeps the prompt cache warm).
        from bank.actions import cards, verification, accounts, payments, people, step_up  # noqa: F401

        checks.register(action_levels)


def action_levels(app_configs=None, **kwargs):
    """FINTALK_ACTION_LEVELS names declared actions (a misspelt one would raise nothing's level)."""
    from bank.actions import REGISTRY

    unknown = sorted(set(settings.FINTALK_ACTION_LEVELS) - set(REGISTRY))
    if not unknown:
        return []
    return [checks.Error(f"FINTALK_ACTION_LEVELS names no declared action: {', '.join(unknown)}.",
                         hint="Use the tool names of README's phone-line table, e.g. change_email=2.", id="fintalk.E031")]
