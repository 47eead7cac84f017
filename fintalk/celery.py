"""The Celery app of Fintalk's workers (outbound calls, #21): `celery -A fintalk worker` and
`celery -A fintalk beat`. Redis is the broker (FINTALK_CELERY_BROKER_URL, by default the cache's
Redis); its settings are the CELERY_* names in fintalk/settings.py.

Beat runs two jobs: the outbound sweep every FINTALK_OUTBOUND_SWEEP_SECONDS (due retries, calls
waiting for the calling hours, requests queued while the broker was away) and the payment-reminder
job every hour (idempotent: one reminder per bill).
"""
import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fintalk.settings")

app = Celery("fintalk")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["outbound"])


@app.on_after_configure.connect
def schedule_periodic_jobs(sender, **kwargs):
    from django.conf import settings

    sender.add_periodic_task(settings.FINTALK_OUTBOUND_SWEEP_SECONDS, sender.signature("outbound.sweep"),
                             name="outbound sweep")
    sender.add_periodic_task(3600.0, sender.signature("outbound.create_payment_reminders"),
                             name="payment reminders")
