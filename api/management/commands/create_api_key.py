"""`python manage.py create_api_key NAME`: issue a key and print it once."""
from django.core.management.base import BaseCommand, CommandError

from api.models import ApiKey


class Command(BaseCommand):
    help = "Create an API key. The key is printed once and cannot be shown again."
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("name", help="A unique label, e.g. vapi-production")

    def handle(self, *args, name, **options):
        if ApiKey.objects.filter(name=name).exists():
            raise CommandError(f"An API key named '{name}' already exists; choose another name or revoke it.")
        _, key = ApiKey.issue(name)
        self.stderr.write(f"Created API key '{name}'. Store it now; it will not be shown again:")
        self.stdout.write(key)
