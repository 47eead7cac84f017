"""`python manage.py revoke_api_key NAME`: the key stops working at once."""
from django.core.management.base import BaseCommand, CommandError

from api.models import ApiKey


class Command(BaseCommand):
    help = "Revoke an API key by name."
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("name")

    def handle(self, *args, name, **options):
        key = ApiKey.objects.filter(name=name).first()
        if key is None:
            raise CommandError(f"No API key named '{name}'. See list_api_keys.")
        if not key.is_active:
            self.stdout.write(f"API key '{name}' was already revoked.")
            return
        key.revoke()
        self.stdout.write(f"Revoked API key '{name}'.")
