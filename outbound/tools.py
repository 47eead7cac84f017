"""The agent's tools for an outbound call, in the style of agent/tools.py: async, thin over
`outbound.services`, each result a sentence the agent can speak. Docstrings are the model's tool
descriptions; names and parameters are the contract with the model.

Which request the call is about comes from the turn (`current_turn_context().outbound`: what
`outbound.selectors.outbound_context` found for the chat request), never from a tool argument, so
the model cannot act on another request. Without one the tools refuse plainly. `OUTBOUND_TOOLS` and
`ACCOUNT_CHANGES` are for the agent's wiring (agent/tools.py, the lead's).
"""
import datetime
from decimal import Decimal

from asgiref.sync import sync_to_async

from agent.context import current_turn_context
from agent.tools.base import money, record, weekday
from bank.services import BlockOutcome
from outbound import services
from outbound.models import OutboundRequest

Purpose, Outcome = OutboundRequest.Purpose, OutboundRequest.Outcome
NO_FRAUD_ALERT = "This call is not about a suspicious transaction, so there is nothing to confirm."
NO_REMINDER = "This call is not about a card payment, so there is no payment promise to record."
PROMISE_WINDOW_DAYS = 30


def _outbound(purpose: str):
    found = current_turn_context().outbound
    return found if found is not None and getattr(found, "purpose", None) == purpose else None


def speak_money(amount: Decimal | None, currency: str) -> str:
    """"$899.00", like the bank's own tools (saying it is the text-to-speech voice's job)."""
    return "an amount" if amount is None else money(amount, currency or "USD")


async def confirm_transaction(made_by_customer: bool) -> str:
    """Record the customer's answer on this fraud alert call: did they make the transaction it is about?
    A yes marks it genuine. A no blocks the card and opens a dispute; then offer a replacement card.

    made_by_customer: true if the customer says they made the purchase, false if they do not recognise it.
    """
    alert = _outbound(Purpose.FRAUD_ALERT)
    if alert is None:
        record("confirm_transaction", "no_fraud_alert")
        return NO_FRAUD_ALERT
    context = current_turn_context()
    answer = await sync_to_async(services.fraud_answer_record)(
        request_id=alert.request_id, made_by_customer=bool(made_by_customer),
        call_id=context.call_id or "", turn_request_id=context.request_id)
    record("confirm_transaction", answer.outcome)
    purchase = f"the {speak_money(alert.amount, alert.currency)} purchase at {alert.merchant}"
    card = f"{answer.card_network} card ending in {answer.card_last4}"
    if answer.outcome == Outcome.CONFIRMED_GENUINE:
        return f"Thank you for confirming. I've noted that {purchase} was yours, and your {card} stays active."
    if answer.block == BlockOutcome.BLOCKED:
        blocked = f"I've blocked your {card} so nobody can use it, and"
    elif answer.block == BlockOutcome.ALREADY_BLOCKED:
        blocked = f"Your {card} is already blocked, so nobody can use it, and"
    else:  # the bank's rules refused the block (this phone's card actions are locked): say so, never pretend
        blocked = f"I couldn't block your {card} by phone just now, so please block it in the app or at a branch;"
    return (f"Thank you for telling us. {blocked} I've opened dispute case {answer.dispute_reference} for "
            f"{purchase}. Would you like us to send you a replacement card?")


async def record_promise_to_pay(date: str) -> str:
    """Record the customer's promise to pay their card bill by a date, on this payment reminder call.

    date: the day the customer promises to pay by, as YYYY-MM-DD.
    """
    reminder = _outbound(Purpose.PAYMENT_REMINDER)
    if reminder is None:
        record("record_promise_to_pay", "no_reminder")
        return NO_REMINDER
    try:
        day = datetime.date.fromisoformat((date or "").strip())
    except ValueError:
        record("record_promise_to_pay", "invalid_date")
        return "I didn't catch the date. On which day will you make the payment?"
    today = datetime.datetime.now(datetime.timezone.utc).date()
    if day < today - datetime.timedelta(days=1):  # a day of slack for the customer's own time zone
        record("record_promise_to_pay", "date_passed")
        return "That date has already passed. On which day will you make the payment?"
    if day > today + datetime.timedelta(days=PROMISE_WINDOW_DAYS):
        record("record_promise_to_pay", "date_too_far")
        return f"I can note a promise for the next {PROMISE_WINDOW_DAYS} days. Could you pay a little sooner?"
    await sync_to_async(services.promise_to_pay_record)(request_id=reminder.request_id, date=day)
    record("record_promise_to_pay", Outcome.PROMISE_TO_PAY)
    minimum = speak_money(reminder.minimum_due, reminder.currency)
    late = (f" That is after the due date, {weekday(reminder.due_date)}, so a late fee may apply."
            if reminder.due_date and day > reminder.due_date else "")
    return f"Thank you. I've noted that you'll pay at least {minimum} by {weekday(day)}.{late}"


OUTBOUND_TOOLS = (confirm_transaction, record_promise_to_pay)
# The outcomes that mean an account or request changed: never cut by the tool timeout (agent/loop.py).
ACCOUNT_CHANGES = {
    "confirm_transaction": frozenset({Outcome.CONFIRMED_GENUINE.value, Outcome.FRAUD_REPORTED.value}),
    "record_promise_to_pay": frozenset({Outcome.PROMISE_TO_PAY.value}),
}
