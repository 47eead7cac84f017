from django.apps import AppConfig


class BankConfig(AppConfig):
    name = "bank"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # Declares them, in the order the model is offered them (a stable order keeps the prompt cache warm).
        from bank.actions import cards, verification, accounts, payments, people, step_up  # noqa: F401
