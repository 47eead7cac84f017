"""The agent's banking tools. Their names and parameters are part of the contract with the model.

Each tool is a thin async wrapper over `bank.selectors` / `bank.services` that phrases the result
for speech. The caller's phone comes from the turn context (`agent.context`), never from a tool
argument, so the model cannot act on somebody else's account. Tools are built once per process.
"""
import re
from decimal import Decimal
from functools import lru_cache
from importlib import import_module

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from llama_index.core.tools import BaseTool, FunctionTool
from llama_index.core.tools.types import adapt_to_async_tool

from agent.context import turn
from agent.converse import ToolSpecs
from bank import selectors, services
from bank.models import LoanProduct
from bank.services import BlockOutcome

# Results are phrased for the caller (the model may speak them as they are), never with other
# customers' data. The system prompt tells the model what to do with them.
NOT_IDENTIFIED = (
    "I can't identify you from this phone line, so I can't look at your cards. "
    "Please call us from the phone number registered with the bank."
)
NO_CUSTOMER = "I couldn't find a customer with the phone number of this call. Please call from your registered number."
# Said when this phone's card actions are locked after too many wrong last-four digits (bank.services).
LOCKED_OUT = "For your security I can't do that by phone right now; please use the app or a branch."


def _percent(value: Decimal) -> str:
    return f"{value.normalize():f} percent"


def _money(amount: int) -> str:
    return f"{amount:,} dollars"


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _years(months: int) -> str:
    return _plural(months // 12, "year") if months % 12 == 0 else _plural(months, "month")


def _speak_loan(product: LoanProduct) -> str:
    return (
        f"{product.name}: {product.description} APR from {_percent(product.apr_min)} to "
        f"{_percent(product.apr_max)}, terms from {_years(product.term_min_months)} to "
        f"{_years(product.term_max_months)}, amounts from {_money(product.amount_min)} to "
        f"{_money(product.amount_max)}."
    )


def _record(tool: str, outcome: str) -> None:
    turn().meter.tool_calls.append((tool, outcome))


async def get_loan_products(kind: str | None = None) -> str:
    """List the bank's loan products with their rates, terms and amounts.

    kind: optional loan kind to filter by: personal, home, auto, student or business.
    """
    kind = (kind or "").strip().lower() or None
    if kind and kind not in LoanProduct.Kind.values:
        _record("get_loan_products", "unknown_kind")
        return f"There is no loan kind called {kind}. The kinds are: {', '.join(LoanProduct.Kind.values)}."
    products = await sync_to_async(selectors.loan_product_list)(kind=kind)
    _record("get_loan_products", "ok")
    if not products:
        return f"The bank has no {kind + ' ' if kind else ''}loan products at the moment."
    intro = f"We have {_plural(len(products), (kind + ' ' if kind else '') + 'loan')}."
    return " ".join([intro, *(_speak_loan(product) for product in products)])


async def _callers_cards(tool: str):
    """The caller's customer and cards, found by the call's phone; or what to say when there are none."""
    phone = turn().phone
    if not phone:
        _record(tool, "not_identified")
        return None, None, NOT_IDENTIFIED
    customer = await sync_to_async(selectors.customer_get_by_phone)(phone=phone)
    if customer is None:
        _record(tool, "customer_not_found")
        return None, None, NO_CUSTOMER
    cards = await sync_to_async(selectors.card_list)(customer=customer)
    _record(tool, "ok")
    return customer, cards, None


async def get_customer_profile() -> str:
    """Who the caller is: their first name and how many cards they hold. Uses the caller's phone line."""
    customer, cards, refusal = await _callers_cards("get_customer_profile")
    if refusal:
        return refusal
    return f"You're {customer.first_name}, and you hold {_plural(len(cards), 'card')} with us."


async def list_credit_cards() -> str:
    """List the caller's cards: network, last four digits and status. Uses the caller's phone line."""
    phone = turn().phone
    if phone and await sync_to_async(selectors.card_actions_locked)(phone=phone):
        _record("list_credit_cards", BlockOutcome.LOCKED_OUT.value)
        return LOCKED_OUT
    _, cards, refusal = await _callers_cards("list_credit_cards")
    if refusal:
        return refusal
    if not cards:
        return "You don't have any cards with us."
    listed = "; ".join(f"a {card.network} card ending in {card.last4}, which is {card.status}" for card in cards)
    return f"You have {listed}."


async def block_credit_card(card_last4: str, reason: str = "lost") -> str:
    """Block the caller's credit card that ends with the given last four digits.

    card_last4: the last four digits of the card, as the caller said them. Ask if you do not have them.
    reason: why the card is blocked, for example lost or stolen.
    """
    context = turn()
    if not context.phone:
        _record("block_credit_card", "not_identified")
        return NOT_IDENTIFIED
    digits = re.sub(r"\D", "", card_last4 or "")
    if len(digits) != 4:
        _record("block_credit_card", "invalid_last4")
        return "I need exactly the last four digits of the card. What are the last four digits?"
    result = await sync_to_async(services.card_block)(
        phone=context.phone, last4=digits, reason=reason or "lost", request_id=context.request_id
    )
    _record("block_credit_card", result.outcome.value)
    if result.outcome is BlockOutcome.BLOCKED:
        return (f"Done. Your {result.card.network} card ending in {digits} is now blocked. "
                "You can order a replacement in the Fintalk app.")
    if result.outcome is BlockOutcome.ALREADY_BLOCKED:
        return f"Your card ending in {digits} was already blocked, so nothing changed."
    if result.outcome is BlockOutcome.CUSTOMER_NOT_FOUND:
        return NO_CUSTOMER + " Nothing was blocked."
    if result.outcome is BlockOutcome.LOCKED_OUT:
        return LOCKED_OUT
    return (f"I couldn't find a card ending in {digits} on your account, so nothing was blocked. "
            "Could you check the last four digits?")


# Tools that change an account, and the outcomes that mean a change was committed: never cut by
# the tool timeout, and never reported to the caller as failed (agent/loop.py).
ACCOUNT_CHANGES = {"block_credit_card": frozenset({BlockOutcome.BLOCKED.value})}

BANK_TOOLS = (get_loan_products, get_customer_profile, list_credit_cards, block_credit_card)
BANK_TOOL_NAMES = frozenset(fn.__name__ for fn in BANK_TOOLS)


def build_tools() -> list[FunctionTool]:
    return [FunctionTool.from_defaults(async_fn=fn) for fn in BANK_TOOLS]


def _extra_tools() -> list[BaseTool]:
    """LlamaIndex tools a bank adds without touching the loop: FINTALK_EXTRA_TOOLS="module:name,...",
    each a BaseTool, a list of them, or a callable returning either (a QueryEngineTool over the
    bank's FAQ, a LlamaHub ToolSpec's `to_tool_list`)."""
    tools: list[BaseTool] = []
    for path in settings.FINTALK_EXTRA_TOOLS:
        module, _, name = path.partition(":")
        found = getattr(import_module(module), name)
        if callable(found) and not isinstance(found, BaseTool):
            found = found()
        for tool in found if isinstance(found, (list, tuple)) else [found]:
            if not isinstance(tool, BaseTool):
                raise ImproperlyConfigured(f"FINTALK_EXTRA_TOOLS: {path} gave {type(tool).__name__}, not a LlamaIndex tool.")
            tools.append(tool)
    return tools


@lru_cache(maxsize=1)
def agent_tool_specs() -> ToolSpecs:
    """The agent's own tools (the bank's and any extra ones) with their toolSpecs, built once per process."""
    tools = build_tools() + _extra_tools()
    names = [tool.metadata.name for tool in tools]
    duplicates = {name for name in names if names.count(name) > 1}
    if duplicates:
        raise ImproperlyConfigured(f"Two agent tools share the name(s) {', '.join(sorted(duplicates))}.")
    return ToolSpecs([adapt_to_async_tool(tool) for tool in tools])


def agent_tool_names() -> frozenset[str]:
    return frozenset(agent_tool_specs().by_name)
