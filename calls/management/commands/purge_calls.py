"""Delete the calls (and their turns) that started more than FINTALK_CALL_RETENTION_DAYS ago.

Idempotent (a second run finds nothing), batched (a bounded number of rows per transaction, so the
tables stay writable while it runs), audited (one bank.AuditEvent per run that deleted something,
actor `purge_calls`, plus a log line with the counts). Run daily by deploy/kubernetes/purge-calls-cronjob.yaml.
"""
import logging
from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from bank.audit import audit
from calls.models import Call, Turn

logger = logging.getLogger("fintalk.calls")


def purge_calls(*, days: int, batch_size: int = 500, dry_run: bool = False) -> tuple[int, int]:
    """(calls, turns) deleted (or, dry run, that would be)."""
    cutoff = timezone.now() - timedelta(days=days)
    expired = Call.objects.filter(started_at__lt=cutoff)
    if dry_run:
        return expired.count(), Turn.objects.filter(call__started_at__lt=cutoff).count()
    calls = turns = 0
    while True:
        with transaction.atomic():
            ids = list(expired.order_by("pk").values_list("pk", flat=True)[:batch_size])
            if not ids:
                break
            turns += Turn.objects.filter(call_id__in=ids).delete()[0]
            calls += Call.objects.filter(pk__in=ids).delete()[0]
    if calls:
        audit("calls_purge", f"deleted {calls} calls, {turns} turns", actor="purge_calls")
    logger.info("calls purged", extra={"calls": calls, "turns": turns, "retention_days": days,
                                       "cutoff": cutoff.isoformat()})
    return calls, turns


class Command(BaseCommand):
    help = "Delete calls older than FINTALK_CALL_RETENTION_DAYS (or --days), in batches, with an audit event."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=None, help="retention in days (default: the setting)")
        parser.add_argument("--batch-size", type=int, default=500)
        parser.add_argument("--dry-run", action="store_true", help="count what would be deleted, delete nothing")

    def handle(self, *args, days=None, batch_size=500, dry_run=False, **options):
        days = settings.FINTALK_CALL_RETENTION_DAYS if days is None else days
        if days < 1 or batch_size < 1:
            raise CommandError("--days and --batch-size must be at least 1.")
        calls, turns = purge_calls(days=days, batch_size=batch_size, dry_run=dry_run)
        verb = "would delete" if dry_run else "deleted"
        self.stdout.write(f"{verb} {calls} calls and {turns} turns older than {days} days")
