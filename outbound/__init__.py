"""Outbound calls: the bank rings its customers (a fraud alert on a card transaction, a reminder that
a card payment is due), through Vapi's `POST /call`, paced by Celery workers.

Issue #21 asks for these requests "in the bank app". They live in an app of their own that refers to
the bank's records by foreign key (Customer, Transaction, Card) and changes them only through
`bank.services`, so that the bank's models and rules keep one owner and this app can change (or be
left out) without touching them.

Layout (HackSoft style): `models` (OutboundRequest, OutboundAttempt), `services` (every write and
state transition), `selectors` (reads, including `outbound_context` for the chat request of an
outbound call), `hours` (calling hours in the customer's time zone), `vapi` (the HTTP client for
Vapi's API), `tasks` (Celery: placing calls, the sweep, the reminder job), `receivers` (Vapi's
status and end-of-call reports), `tools` (the agent's tools for the conversation), `views` /
`serializers` / `urls` (the REST endpoint for the bank's fraud system), `admin` / `admin_actions`.
"""
