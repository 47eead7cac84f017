"""Fintalk's project package. Its Celery app is loaded with Django, so that tasks queued by the web
process (outbound calls) go to the broker the workers read (fintalk/celery.py)."""
from fintalk.celery import app as celery_app

__all__ = ("celery_app",)
