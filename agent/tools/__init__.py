"""The agent's banking tools. Their names and parameters are part of the contract with the model.

Each tool is a thin async wrapper over `bank.selectors` / `bank.services` that phrases the result
for speech. The caller's phone and call come from the turn context (`agent.context`), never from a
tool argument, so the model cannot act on somebody else's account. Each tool declares the
verification level it needs (`@bank_tool(level)`, listed in `REQUIRED_LEVEL`), and the bank's
selectors and services enforce it themselves (`bank.verification.require`): a model that calls a
tool out of order gets a refusal it can say, never data. Amounts are sent as "$1,200.50": saying
them is the text-to-speech voice's job. Tools are built once per process.
"""
import inspect
from functools import lru_cache
from importlib import import_module

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from llama_index.core.tools import BaseTool, FunctionTool
from llama_index.core.tools.types import adapt_to_async_tool

from agent.converse import ToolSpecs
from agent.tools.accounts import get_account_balances, get_recent_transactions, open_dispute, order_replacement_card
from agent.tools.base import (
    LOCKED_OUT,
    NO_CUSTOMER,
    NOT_IDENTIFIED,
    NOT_VERIFIED,
    REFUSALS,
    REQUIRED_LEVEL,
    SECURITY_UNAVAILABLE,
    VERIFICATION_LOCKED,
)
from agent.tools.cards import block_credit_card, get_customer_profile, get_loan_products, list_credit_cards
from agent.tools.payments import TRANSFER_CALL, confirm_card_payment, prepare_card_payment, transfer_to_human
from agent.tools.verification import send_verification_code, verify_code, verify_security_answers
from bank.services import BlockOutcome, CaseOutcome, PaymentOutcome
from bank.verification import PHONE_LINE

__all__ = ["LOCKED_OUT", "NO_CUSTOMER", "NOT_IDENTIFIED", "NOT_VERIFIED", "REFUSALS", "REQUIRED_LEVEL",
           "SECURITY_UNAVAILABLE", "VERIFICATION_LOCKED", "TRANSFER_CALL", "ACCOUNT_CHANGES", "BANK_TOOLS",
           "agent_tool_specs", "agent_tool_names", "build_tools"]

# Tools that change an account, and the outcomes that mean a change was committed: never cut by
# the tool timeout, and never reported to the caller as failed (agent/loop.py).
ACCOUNT_CHANGES = {
    "block_credit_card": frozenset({BlockOutcome.BLOCKED.value}),
    "open_dispute": frozenset({CaseOutcome.CREATED.value}),
    "order_replacement_card": frozenset({CaseOutcome.CREATED.value}),
    "confirm_card_payment": frozenset({PaymentOutcome.PAID.value}),
}

BANK_TOOLS = (get_loan_products, get_customer_profile, list_credit_cards, block_credit_card,
              send_verification_code, verify_code, verify_security_answers, get_account_balances,
              get_recent_transactions, open_dispute, order_replacement_card, prepare_card_payment,
              confirm_card_payment, transfer_to_human)


def build_tools(outbound: bool = False) -> list[FunctionTool]:
    """The bank's tools; on an outbound call also the tools for its purpose (outbound.tools)."""
    return [FunctionTool.from_defaults(async_fn=fn, description=_description(fn))
            for fn in BANK_TOOLS + (outbound_tools() if outbound else ())]


def _description(fn) -> str:
    """The docstring alone: LlamaIndex would prefix the Python signature, which the JSON schema already
    says; every byte of the 14 tools' specs is sent (and paid for) on every model call."""
    return inspect.cleandoc(fn.__doc__ or fn.__name__)


@lru_cache(maxsize=1)
def outbound_tools() -> tuple:
    """outbound.tools' functions, registered here once: level 0 (the bank dialled the customer's
    registered number) and their committed outcomes with the account changes. Imported late:
    outbound.tools itself imports this package's base."""
    from outbound import tools as outbound

    for fn in outbound.OUTBOUND_TOOLS:
        REQUIRED_LEVEL[fn.__name__] = PHONE_LINE
    ACCOUNT_CHANGES.update(outbound.ACCOUNT_CHANGES)
    return tuple(outbound.OUTBOUND_TOOLS)


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


@lru_cache(maxsize=2)
def agent_tool_specs(outbound: bool = False) -> ToolSpecs:
    """The agent's own tools (the bank's, an outbound call's, any extra ones) with their toolSpecs,
    built once per process for each kind of call."""
    tools = build_tools(outbound) + _extra_tools()
    names = [tool.metadata.name for tool in tools]
    duplicates = {name for name in names if names.count(name) > 1}
    if duplicates:
        raise ImproperlyConfigured(f"Two agent tools share the name(s) {', '.join(sorted(duplicates))}.")
    return ToolSpecs([adapt_to_async_tool(tool) for tool in tools])


def agent_tool_names() -> frozenset[str]:
    """Every name the agent's tools use on any call (a client tool may not take one)."""
    return frozenset(agent_tool_specs(outbound=True).by_name)
