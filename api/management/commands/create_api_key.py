"""`python manage.py create_api_key NAME [--scope chat] [--scope outbound]`: issue a key and print it once."""
from django.core.management.base import BaseCommand, CommandError

from api.models import CHAT, SCOPES, ApiKey


class Command(BaseCommand):
    help = "Create an API key. The key is printed once and cannot be shown again."
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("name", help="A unique label, e.g. vapi-production")
        parser.add_argument("--scope", action="append", choices=list(SCOPES), dest="scopes", metavar="SCOPE",
                            help="What the key may be used for; repeat for several. "
                                 + "; ".join(f"{name}: {what}" for name, what in SCOPES.items())
                                 + f". Default: {CHAT}.")

    def handle(self, *args, name, scopes=None, **options):
        if ApiKey.objects.filter(name=name).exists():
            raise CommandError(f"An API key named '{name}' already exists; choose another name or revoke it.")
        api_key, key = ApiKey.issue(name, scopes or (CHAT,))
        self.stderr.write(f"Created API key '{name}' with the scopes: {api_key.scopes}. "
                          "Store it now; it will not be shown again:")
        self.stdout.write(key)
