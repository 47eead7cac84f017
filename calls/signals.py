"""Signals of the calls app: other apps react to Vapi's reports without importing its views."""
import django.dispatch

# Sent after POST /api/vapi/events authenticated and parsed a report: kwargs event_type (str),
# message (dict: Vapi's `message`), call_id (str | None).
vapi_event = django.dispatch.Signal()
