"""Signals other apps receive from the calls app.

`vapi_event` is sent once per authenticated, parsed Vapi server message (`POST /api/vapi/events`),
after the Call it concerns was updated: kwargs `event_type` (str, e.g. "end-of-call-report"),
`message` (the message object as Vapi sent it) and `call_id` (Vapi's call.id, or None). Sent with
`send_robust`: a receiver's error is logged, never turned into an error for Vapi.
"""
from django.dispatch import Signal

vapi_event = Signal()
