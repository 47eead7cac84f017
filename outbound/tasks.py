"""Celery tasks: placing one request's call, the sweep that finds due requests, the reminder job.

`place_call` may run twice for one request (queued on creation and again by the sweep, or two
workers): `services.claim` lets exactly one of them ring. The sweep and the reminder job are
celery beat's (fintalk/celery.py); one beat process runs per deployment.
"""
from celery import shared_task
from django.conf import settings

from outbound import selectors, services


@shared_task(name="outbound.place_call", ignore_result=True)
def place_call(request_id: int) -> str:
    return services.place(request_id)


@shared_task(name="outbound.sweep", ignore_result=True)
def sweep() -> int:
    """Give up calls never reported ended, then queue as many due requests as there are free lines."""
    services.lost_calls_end()
    free = settings.FINTALK_OUTBOUND_CONCURRENCY - selectors.live_call_count()
    due = selectors.due_request_ids(limit=max(free, 0))
    for request_id in due:
        place_call.delay(request_id)
    return len(due)


@shared_task(name="outbound.create_payment_reminders", ignore_result=True)
def create_payment_reminders() -> int:
    return services.reminders_create_due()
