"""`python manage.py list_api_keys`: names, prefixes, scopes and use of every key (never the keys)."""
from django.core.management.base import BaseCommand

from api.models import ApiKey


def _when(value) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "-"


class Command(BaseCommand):
    help = "List API keys: name, prefix, scopes, created, last used, status."
    requires_system_checks = []

    def handle(self, *args, **options):
        rows = [("NAME", "PREFIX", "SCOPES", "CREATED", "LAST USED", "STATUS")]
        rows += [(k.name, k.prefix + "...", ",".join(k.scopes.split()), _when(k.created_at), _when(k.last_used_at),
                  "active" if k.is_active else f"revoked {_when(k.revoked_at)}") for k in ApiKey.objects.all()]
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        for row in rows:
            self.stdout.write("  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip())
