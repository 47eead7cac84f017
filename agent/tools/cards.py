"""The tools a phone line alone allows (level 0): loans, who the caller is, their cards, blocking one."""
import re
from decimal import Decimal

from asgiref.sync import sync_to_async

from agent.context import current_turn_context
from agent.tools.base import LOCKED_OUT, NO_CUSTOMER, NOT_IDENTIFIED, SECURITY_UNAVAILABLE, bank_tool, plural, record
from bank import selectors, services
from bank.models import LoanProduct
from bank.services import BlockOutcome
from bank.verification import PHONE_LINE


def _percent(value: Decimal) -> str:
    return f"{value.normalize():f} percent"


def _money(amount: int) -> str:
    return f"{amount:,} dollars"


def _years(months: int) -> str:
    return plural(months // 12, "year") if months % 12 == 0 else plural(months, "month")


def _speak_loan(product: LoanProduct) -> str:
    return (
        f"{product.name}: {product.description} APR from {_percent(product.apr_min)} to "
        f"{_percent(product.apr_max)}, terms from {_years(product.term_min_months)} to "
        f"{_years(product.term_max_months)}, amounts from {_money(product.amount_min)} to "
        f"{_money(product.amount_max)}."
    )


@bank_tool(None)
async def get_loan_products(kind: str | None = None) -> str:
    """List the bank's loan products with their rates, terms and amounts.

    kind: optional loan kind to filter by: personal, home, auto, student or business.
    """
    kind = (kind or "").strip().lower() or None
    if kind and kind not in LoanProduct.Kind.values:
        record("get_loan_products", "unknown_kind")
        return f"There is no loan kind called {kind}. The kinds are: {', '.join(LoanProduct.Kind.values)}."
    products = await sync_to_async(selectors.loan_product_list)(kind=kind)
    record("get_loan_products", "ok")
    if not products:
        return f"The bank has no {kind + ' ' if kind else ''}loan products at the moment."
    intro = f"We have {plural(len(products), (kind + ' ' if kind else '') + 'loan')}."
    return " ".join([intro, *(_speak_loan(product) for product in products)])


async def _callers_cards(tool: str):
    """The caller's customer and cards, found by the call's phone; or what to say when there are none."""
    phone = current_turn_context().phone
    if not phone:
        record(tool, "not_identified")
        return None, None, NOT_IDENTIFIED
    customer = await sync_to_async(selectors.customer_get_by_phone)(phone=phone)
    if customer is None:
        record(tool, "customer_not_found")
        return None, None, NO_CUSTOMER
    cards = await sync_to_async(selectors.card_list)(customer=customer)
    record(tool, "ok")
    return customer, cards, None


@bank_tool(PHONE_LINE)
async def get_customer_profile() -> str:
    """Who the caller is: their first name and how many cards they hold. Uses the caller's phone line."""
    customer, cards, refusal = await _callers_cards("get_customer_profile")
    if refusal:
        return refusal
    return f"You're {customer.first_name}, and you hold {plural(len(cards), 'card')} with us."


@bank_tool(PHONE_LINE)
async def list_credit_cards() -> str:
    """List the caller's cards: network, last four digits and status. Uses the caller's phone line."""
    phone = current_turn_context().phone
    if phone and await sync_to_async(selectors.card_actions_locked)(phone=phone):
        record("list_credit_cards", BlockOutcome.LOCKED_OUT.value)
        return LOCKED_OUT
    _, cards, refusal = await _callers_cards("list_credit_cards")
    if refusal:
        return refusal
    if not cards:
        return "You don't have any cards with us."
    listed = "; ".join(f"a {card.network} card ending in {card.last4}, which is {card.status}" for card in cards)
    return f"You have {listed}."


@bank_tool(PHONE_LINE)
async def block_credit_card(card_last4: str, reason: str = "lost") -> str:
    """Block the caller's credit card that ends with the given last four digits.

    card_last4: the last four digits of the card, as the caller said them. Ask if you do not have them.
    reason: why the card is blocked, for example lost or stolen.
    """
    context = current_turn_context()
    if not context.phone:
        record("block_credit_card", "not_identified")
        return NOT_IDENTIFIED
    digits = re.sub(r"\D", "", card_last4 or "")
    if len(digits) != 4:
        record("block_credit_card", "invalid_last4")
        return "I need exactly the last four digits of the card. What are the last four digits?"
    result = await sync_to_async(services.card_block)(
        phone=context.phone, last4=digits, reason=reason or "lost", request_id=context.request_id,
        call_id=context.call_id or "",
    )
    record("block_credit_card", result.outcome.value)
    if result.outcome is BlockOutcome.BLOCKED:
        return (f"Done. Your {result.card.network} card ending in {digits} is now blocked. "
                "Would you like a replacement card sent to the address we have on file?")
    if result.outcome is BlockOutcome.ALREADY_BLOCKED:
        return f"Your card ending in {digits} was already blocked, so nothing changed."
    if result.outcome is BlockOutcome.CUSTOMER_NOT_FOUND:
        return NO_CUSTOMER + " Nothing was blocked."
    if result.outcome is BlockOutcome.LOCKED_OUT:
        return LOCKED_OUT
    if result.outcome is BlockOutcome.SECURITY_UNAVAILABLE:
        return SECURITY_UNAVAILABLE + " Nothing was blocked."
    return (f"I couldn't find a card ending in {digits} on your account, so nothing was blocked. "
            "Could you check the last four digits?")


