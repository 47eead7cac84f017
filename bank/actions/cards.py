"""Actions a phone line alone allows (level 0): the loans, who is calling, blocking a card.

What level 0 may say is limited by what it must never give away: a security answer (README "The
bank's guarantees"). So a card is never listed by its last four digits here: the caller says them.
"""
from bank import selectors, services
from bank.actions.declare import Outcome, action, result
from bank.models import LoanProduct
from bank.refusals import CARD_ACTIONS_LOCKED, NO_CUSTOMER, SECURITY_UNAVAILABLE
from bank.services import BlockOutcome
from bank.speech import card_name, day, digits, money, plural
from bank.verification import PHONE_LINE, VERIFIED


def _percent(value) -> str:
    return f"{value.normalize():f} percent"


def _years(months: int) -> str:
    return plural(months // 12, "year") if months % 12 == 0 else plural(months, "month")


def _loan(product: LoanProduct) -> str:
    return (f"{product.name}: {product.description} APR from {_percent(product.apr_min)} to "
            f"{_percent(product.apr_max)}, terms from {_years(product.term_min_months)} to "
            f"{_years(product.term_max_months)}, amounts from {money(product.amount_min)} to {money(product.amount_max)}.")


@action(level=None, reads=True, outcomes={
    "ok": Outcome("{listed}"),
    "none": Outcome("The bank has no {kind}loan products at the moment."),
    "unknown_kind": Outcome("There is no loan kind called {kind}. The kinds are: {kinds}."),
})
def get_loan_products(session, kind: str | None = None):
    """List the bank's loan products with their rates, terms and amounts.

    kind: optional loan kind to filter by: personal, home, auto, student or business.
    """
    kind = (kind or "").strip().lower() or None
    if kind and kind not in LoanProduct.Kind.values:
        return result("unknown_kind", kind=kind, kinds=", ".join(LoanProduct.Kind.values))
    products = selectors.loan_product_list(kind=kind)
    if not products:
        return result("none", kind=f"{kind} " if kind else "")
    intro = f"We have {plural(len(products), (kind + ' ' if kind else '') + 'loan')}."
    return result("ok", listed=" ".join([intro, *(_loan(product) for product in products)]))


@action(level=PHONE_LINE, reads=True, outcomes={
    "ok": Outcome("You're {first_name}, and you hold {cards} with us."),
})
def get_customer_profile(session):
    """Who the caller is: their first name and how many cards they hold. Uses the caller's phone line."""
    first_name, held, _, _ = selectors.caller_summary(phone=session.phone)
    return result("ok", first_name=first_name, cards=plural(held, "card"))


@action(level=PHONE_LINE, reads=True, outcomes={
    "ok": Outcome("You have {listed}."),
    "none": Outcome("You don't have any cards with us."),
    BlockOutcome.LOCKED_OUT.value: Outcome(CARD_ACTIONS_LOCKED, identity_failure=True),
})
def list_credit_cards(session):
    """List the caller's cards: network and status (never their digits). Uses the caller's phone line."""
    if selectors.card_actions_locked(phone=session.phone):
        return result(BlockOutcome.LOCKED_OUT)
    cards = selectors.card_list(customer=selectors.customer_get_by_phone(phone=session.phone))
    if not cards:
        return result("none")
    return result("ok", listed="; ".join(f"a {card_name(card.network)}, which is {card.status}" for card in cards))


@action(level=PHONE_LINE, audit="card_block", outcomes={
    BlockOutcome.BLOCKED.value: Outcome("Done. Your {card} ending in {last4} is now blocked. Would you like a "
                                        "replacement card sent to the address we have on file?", commits=True),
    BlockOutcome.ALREADY_BLOCKED.value: Outcome("Your card ending in {last4} was already blocked, so nothing changed."),
    BlockOutcome.CARD_NOT_FOUND.value: Outcome("I couldn't find a card ending in {last4} on your account, so nothing "
                                               "was blocked. Could you check the last four digits?",
                                               identity_failure=True),
    BlockOutcome.CUSTOMER_NOT_FOUND.value: Outcome(NO_CUSTOMER + " Nothing was blocked."),
    BlockOutcome.LOCKED_OUT.value: Outcome(CARD_ACTIONS_LOCKED, identity_failure=True),
    BlockOutcome.SECURITY_UNAVAILABLE.value: Outcome(SECURITY_UNAVAILABLE + " Nothing was blocked."),
    "invalid_last4": Outcome("I need exactly the last four digits of the card. What are the last four digits?"),
})
def block_credit_card(session, card_last4: str, reason: str = "lost"):
    """Block the caller's credit card that ends with the given last four digits.

    card_last4: the last four digits of the card, as the caller said them. Ask if you do not have them.
    reason: why the card is blocked, for example lost or stolen.
    """
    last4 = digits(card_last4)
    if len(last4) != 4:
        return result("invalid_last4")
    done = services.card_block(phone=session.phone, last4=last4, reason=reason or "lost",
                               request_id=session.request_id, call_id=session.call_id or "", actor=session.actor)
    return result(done.outcome, last4=last4, card=card_name(done.card.network) if done.card else "card")


@action(level=VERIFIED, reads=True, outcomes={
    "due": Outcome("Your {card} ending in {last4} has {minimum} due by {day}."),
    "nothing_due": Outcome("There's nothing due on your card ending in {last4}."),
    "not_found": Outcome("I couldn't find a card ending in {last4}. Could you check the last four digits?"),
})
def get_payment_due(session, card_last4: str):
    """When the caller's card bill is due and the minimum to pay (needs verification).

    card_last4: the last four digits of the card.
    """
    card = selectors.card_get(session=session, last4=digits(card_last4))
    if card is None:
        return result("not_found", last4=digits(card_last4) or card_last4)
    if not card.minimum_due or card.payment_due_date is None:
        return result("nothing_due", last4=card.last4)
    return result("due", card=card_name(card.network), last4=card.last4,
                  minimum=money(card.minimum_due, card.currency), day=day(card.payment_due_date))
