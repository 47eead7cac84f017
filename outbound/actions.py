"""The actions of an outbound call (bank.actions' way: one declaration each), offered only on a call
the bank placed for that purpose. Which request the call is about comes from the call
(`session.outbound`: outbound.selectors.outbound_context, found for the Vapi call the bank placed),
never from an argument, so the model cannot act on another request. Declared here, the app above
the bank, and imported in OutboundConfig.ready."""
import datetime

from django.utils import timezone

from bank.actions import Outcome, action, result
from bank.speech import card_name, money, weekday
from bank.verification import PHONE_LINE
from outbound import answers
from outbound.models import OutboundRequest

Purpose, Answer = OutboundRequest.Purpose, OutboundRequest.Outcome
PROMISE_WINDOW_DAYS = 30
_PURCHASE = "the {amount} purchase at {merchant}"


@action(level=PHONE_LINE, purpose=Purpose.FRAUD_ALERT, audit="fraud_answer", outcomes={
    Answer.CONFIRMED_GENUINE.value: Outcome("Thank you for confirming. I've noted that " + _PURCHASE + " was yours, "
                                            "and your {card} ending in {last4} stays active.", commits=True),
    Answer.FRAUD_REPORTED.value: Outcome("Thank you for telling us. {blocked} I've opened dispute case {reference} "
                                         "for " + _PURCHASE + ". Would you like us to send you a replacement card?",
                                         commits=True),
    "already_answered": Outcome("You've already told me about " + _PURCHASE + ", and that answer stands. {kept}"),
    "contradicted": Outcome("For your safety, your {card} ending in {last4} stays blocked and the dispute stays "
                            "open. If the purchase was yours after all, a person can help: shall I put you through?"),
    "no_fraud_alert": Outcome("This call is not about a suspicious transaction, so there is nothing to confirm."),
})
def confirm_transaction(session, made_by_customer: bool):
    """Record the customer's answer on this fraud alert call: did they make the transaction it is about?
    A yes marks it genuine. A no blocks the card and opens a dispute; then offer a replacement card.

    made_by_customer: true if the customer says they made the purchase, false if they do not recognise it.
    """
    alert = session.outbound
    if alert is None or alert.purpose != Purpose.FRAUD_ALERT:
        return result("no_fraud_alert")
    answer = answers.fraud_answer_record(request_id=alert.request_id, made_by_customer=bool(made_by_customer),
                                          call_id=session.call_id or "", turn_request_id=session.request_id)
    facts = {"amount": money(alert.amount, alert.currency), "merchant": alert.merchant,
             "card": card_name(answer.card_network), "last4": answer.card_last4, "reference": answer.dispute_reference}
    if answer.outcome == Answer.FRAUD_REPORTED:
        facts["blocked"] = {
            "blocked": f"I've blocked your {facts['card']} ending in {answer.card_last4} so nobody can use it, and",
            "already_blocked": f"Your {facts['card']} ending in {answer.card_last4} is already blocked, so nobody "
                               "can use it, and",
        }.get(answer.block, f"I couldn't block your {facts['card']} ending in {answer.card_last4} by phone just now, "
                            "so please block it in the app or at a branch;")
    if answer.outcome == "already_answered":
        facts["kept"] = ("Your card stays blocked." if answer.previous == Answer.FRAUD_REPORTED
                         else "Your card stays active.")
    return result(answer.outcome, **facts)


@action(level=PHONE_LINE, purpose=Purpose.PAYMENT_REMINDER, audit="promise_to_pay", outcomes={
    Answer.PROMISE_TO_PAY.value: Outcome("Thank you. I've noted that you'll pay at least {minimum} by {day}.{late}",
                                         commits=True),
    "invalid_date": Outcome("I didn't catch the date. On which day will you make the payment?"),
    "date_passed": Outcome("That date has already passed. On which day will you make the payment?"),
    "date_too_far": Outcome(f"I can note a promise for the next {PROMISE_WINDOW_DAYS} days. Could you pay a little "
                            "sooner?"),
    "no_reminder": Outcome("This call is not about a card payment, so there is no payment promise to record."),
})
def record_promise_to_pay(session, date: str):
    """Record the customer's promise to pay their card bill by a date, on this payment reminder call.

    date: the day the customer promises to pay by, as YYYY-MM-DD.
    """
    reminder = session.outbound
    if reminder is None or reminder.purpose != Purpose.PAYMENT_REMINDER:
        return result("no_reminder")
    try:
        day = datetime.date.fromisoformat((date or "").strip())
    except ValueError:
        return result("invalid_date")
    today = timezone.now().date()
    if day < today - datetime.timedelta(days=1):  # a day of slack for the customer's own time zone
        return result("date_passed")
    if day > today + datetime.timedelta(days=PROMISE_WINDOW_DAYS):
        return result("date_too_far")
    answers.promise_to_pay_record(request_id=reminder.request_id, date=day)
    late = (f" That is after the due date, {weekday(reminder.due_date)}, so a late fee may apply."
            if reminder.due_date and day > reminder.due_date else "")
    return result(Answer.PROMISE_TO_PAY, minimum=money(reminder.minimum_due, reminder.currency), day=weekday(day),
                  late=late)
