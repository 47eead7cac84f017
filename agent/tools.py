"""The agent's banking tools. Their names and parameters are part of the contract with the model.

Each tool is a thin async wrapper over `bank.selectors` / `bank.services` that phrases the result
for speech. The caller's phone and call come from the turn context (`agent.context`), never from a
tool argument, so the model cannot act on somebody else's account. Each tool declares the
verification level it needs (`@bank_tool(level)`, listed in `REQUIRED_LEVEL`), and the bank's
selectors and services enforce it themselves (`bank.verification.require`): a model that calls a
tool out of order gets a refusal it can say, never data. Amounts are sent as "$1,200.50": saying
them is the text-to-speech voice's job. Tools are built once per process.
"""
import functools
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
from bank import selectors, services, verification
from bank.lockouts import SecurityCheckUnavailable
from bank.models import Account, Dispute, LoanProduct, Transaction
from bank.services import BlockOutcome, CaseOutcome, PaymentOutcome
from bank.verification import PHONE_LINE, VERIFIED, CallSession, CodeOutcome, Denied, Reason

# Results are phrased for the caller (the model may speak them as they are), never with other
# customers' data. The system prompt tells the model what to do with them.
NOT_IDENTIFIED = (
    "I can't identify you from this phone line, so I can't look at your cards. "
    "Please call us from the phone number registered with the bank."
)
NO_CUSTOMER = "I couldn't find a customer with the phone number of this call. Please call from your registered number."
# Said when this phone's card actions are locked after too many wrong last-four digits (bank.services).
LOCKED_OUT = "For your security I can't do that by phone right now; please use the app or a branch."
NOT_VERIFIED = ("Before I can do that I need to make sure it's you. I can text a six-digit code to your "
                "registered phone. Shall I send it?")
VERIFICATION_LOCKED = ("For your security, verification is locked on this phone for a while after too many wrong "
                       "attempts. I can put you through to a person, or you can visit a branch.")
SECURITY_UNAVAILABLE = ("I can't check your security details right now, so I can't do that at the moment. "
                        "Please try again a little later, or I can put you through to a person.")
REFUSALS = {Reason.NOT_IDENTIFIED: NOT_IDENTIFIED, Reason.CUSTOMER_NOT_FOUND: NO_CUSTOMER,
            Reason.NOT_VERIFIED: NOT_VERIFIED, Reason.LOCKED_OUT: VERIFICATION_LOCKED,
            Reason.SECURITY_UNAVAILABLE: SECURITY_UNAVAILABLE}

REQUIRED_LEVEL: dict[str, int] = {}  # tool name -> the verification level it needs (bank.verification)


def bank_tool(level: int | None):
    """Declare a tool's verification level (None: no account involved) and speak the bank's refusals."""

    def declare(fn):
        REQUIRED_LEVEL[fn.__name__] = level

        @functools.wraps(fn)
        async def tool(*args, **kwargs):
            try:
                return await fn(*args, **kwargs)
            except Denied as denied:
                _record(fn.__name__, denied.reason.value)
                return REFUSALS[denied.reason]

        return tool

    return declare


def _session() -> CallSession:
    context = turn()
    return CallSession(context.phone, context.call_id, context.request_id)


def _amount(amount: Decimal, currency: str = "USD") -> str:
    """"$1,200.50" (the voice says it); other currencies by their code."""
    return f"${amount:,.2f}" if currency == "USD" else f"{amount:,.2f} {currency}"


def _day(when) -> str:
    return f"{when:%B} {when.day}"


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


@bank_tool(None)
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


@bank_tool(PHONE_LINE)
async def get_customer_profile() -> str:
    """Who the caller is: their first name and how many cards they hold. Uses the caller's phone line."""
    customer, cards, refusal = await _callers_cards("get_customer_profile")
    if refusal:
        return refusal
    return f"You're {customer.first_name}, and you hold {_plural(len(cards), 'card')} with us."


def _card_actions_locked(phone: str) -> bool:
    try:
        return selectors.card_actions_locked(phone=phone)
    except SecurityCheckUnavailable:
        raise Denied(Reason.SECURITY_UNAVAILABLE) from None


@bank_tool(PHONE_LINE)
async def list_credit_cards() -> str:
    """List the caller's cards: network, last four digits and status. Uses the caller's phone line."""
    phone = turn().phone
    if phone and await sync_to_async(_card_actions_locked)(phone):
        _record("list_credit_cards", BlockOutcome.LOCKED_OUT.value)
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
    context = turn()
    if not context.phone:
        _record("block_credit_card", "not_identified")
        return NOT_IDENTIFIED
    digits = re.sub(r"\D", "", card_last4 or "")
    if len(digits) != 4:
        _record("block_credit_card", "invalid_last4")
        return "I need exactly the last four digits of the card. What are the last four digits?"
    result = await sync_to_async(services.card_block)(
        phone=context.phone, last4=digits, reason=reason or "lost", request_id=context.request_id,
        call_id=context.call_id or "",
    )
    _record("block_credit_card", result.outcome.value)
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


# --- Verification (bank.verification): a one-time code, or the security questions ---

@bank_tool(PHONE_LINE)
async def send_verification_code() -> str:
    """Text a six-digit one-time code to the caller's registered phone, to verify who they are.
    Needed before balances, transactions, disputes, replacement cards and payments."""
    outcome = await sync_to_async(verification.code_send)(_session())
    _record("send_verification_code", outcome.value)
    if outcome is CodeOutcome.ALREADY_VERIFIED:
        turn().facts.verification_level = VERIFIED
        return "You're already verified on this call, so there's no need for a code."
    if outcome is CodeOutcome.SEND_FAILED:
        return ("I couldn't send a code to your phone just now. I can verify you with three security questions "
                "instead: your date of birth, the last four digits of one of your cards, and the amount of your most "
                "recent transaction. Or I can put you through to a person.")
    return ("I've sent a six-digit code to your registered phone. Please read it to me, or type it on your "
            "keypad. It expires in five minutes.")


@bank_tool(PHONE_LINE)
async def verify_code(code: str) -> str:
    """Check the six-digit one-time code the caller read back or typed on the keypad.

    code: the six digits exactly as the caller gave them.
    """
    context = turn()
    if code:
        context.facts.secrets.append(str(code))
    outcome = await sync_to_async(verification.code_check)(_session(), str(code or ""))
    _record("verify_code", outcome.value)
    if outcome in (CodeOutcome.VERIFIED, CodeOutcome.ALREADY_VERIFIED):
        context.facts.verification_level = VERIFIED
        return "Thank you, you're verified. What would you like to do?"
    if outcome is CodeOutcome.INVALID:
        return "A code is six digits, with no letters. Could you read it to me again?"
    if outcome is CodeOutcome.NO_CODE:
        return "That code has expired or was already used. Shall I send you a new one?"
    return "That code isn't right. Please check the text message and read me the six digits again."


@bank_tool(PHONE_LINE)
async def verify_security_answers(date_of_birth: str, card_last4: str, last_transaction_amount: str) -> str:
    """Verify the caller with security questions, when a one-time code can't be used. Ask all three first.

    date_of_birth: the caller's date of birth, as YYYY-MM-DD.
    card_last4: the last four digits of one of the caller's cards.
    last_transaction_amount: the amount of the caller's most recent transaction, e.g. 4.75.
    """
    right = await sync_to_async(verification.security_answers_check)(
        _session(), date_of_birth=date_of_birth or "", card_last4=card_last4 or "",
        last_transaction_amount=last_transaction_amount or "")
    _record("verify_security_answers", "verified" if right else "wrong")
    if right:
        turn().facts.verification_level = VERIFIED
        return "Thank you, you're verified. What would you like to do?"
    return "I'm sorry, those answers don't match our records, so I can't verify you that way."


# --- Accounts, transactions, disputes, replacements and payments: level 1 ---

def _verified_now() -> None:
    """A level-1 tool got past the bank's check: the call is verified (bank.verification.require)."""
    turn().facts.verification_level = VERIFIED


@bank_tool(VERIFIED)
async def get_account_balances(account_last4: str | None = None) -> str:
    """The balances of the caller's checking and savings accounts (needs verification).

    account_last4: optional last four digits of one account; leave out for all of them.
    """
    accounts = await sync_to_async(selectors.account_list)(session=_session())
    if account_last4:
        accounts = [a for a in accounts if a.last4 == re.sub(r"\D", "", account_last4)]
        if not accounts:
            _record("get_account_balances", "not_found")
            return f"I couldn't find an account ending in {account_last4}. Could you check the last four digits?"
    _verified_now()
    _record("get_account_balances", "ok")
    if not accounts:
        return "You don't have a checking or savings account with us."
    listed = "; ".join(f"your {a.kind} account ending in {a.last4} has {_amount(a.balance, a.currency)}"
                       for a in accounts)
    return listed[0].upper() + listed[1:] + "."


def _speak_transaction(item: Transaction) -> str:
    what = "a payment of" if item.direction == Transaction.Direction.CREDIT else "a charge of"
    if item.merchant.startswith("Payment to") or item.direction == Transaction.Direction.CREDIT:
        return f"on {_day(item.posted_at)}, {item.merchant}, {_amount(item.amount, item.currency)}"
    return f"on {_day(item.posted_at)}, {what} {_amount(item.amount, item.currency)} at {item.merchant}"


@bank_tool(VERIFIED)
async def get_recent_transactions(last4: str | None = None, count: int = 5) -> str:
    """The caller's most recent transactions, newest first, with date, merchant and amount (needs verification).

    last4: optional last four digits of one account or card; leave out for all of them.
    count: how many transactions, 5 unless the caller asks for more (at most 20).
    """
    found = await sync_to_async(selectors.transaction_list)(
        session=_session(), last4=re.sub(r"\D", "", last4 or "") or None, count=int(count or 5))
    if found.not_found:
        _record("get_recent_transactions", "not_found")
        return f"I couldn't find an account or card ending in {last4}. Could you check the last four digits?"
    _verified_now()
    _record("get_recent_transactions", "ok")
    if not found.transactions:
        return "There are no recent transactions."
    where = f" on your {found.place}" if found.place is not None else ""
    return f"Your last {_plural(len(found.transactions), 'transaction')}{where}: " + "; ".join(
        _speak_transaction(item) for item in found.transactions) + "."


@bank_tool(VERIFIED)
async def open_dispute(merchant: str, reason: str, amount: str | None = None, date: str | None = None) -> str:
    """Dispute one of the caller's transactions and open a case with a reference (needs verification).

    merchant: the merchant of the transaction, as in the recent transactions.
    reason: not_recognised, wrong_amount, duplicate or not_received.
    amount: the transaction's amount, e.g. 45.10, when the caller said it.
    date: the transaction's date as YYYY-MM-DD, when the caller said it.
    """
    result = await sync_to_async(services.dispute_open)(session=_session(), merchant=merchant or "",
                                                        reason=(reason or "").strip().lower(), amount=amount,
                                                        date=date or None)
    if result.outcome is not CaseOutcome.INVALID:
        _verified_now()
    _record("open_dispute", result.outcome.value)
    if result.outcome is CaseOutcome.INVALID:
        return ("I need the merchant and why you dispute it: not recognised, wrong amount, duplicate, or "
                "not received.")
    if result.outcome is CaseOutcome.NOT_FOUND:
        return "I couldn't find a charge like that on your account. Could you tell me the merchant and the amount?"
    if result.outcome is CaseOutcome.AMBIGUOUS:
        listed = "; ".join(_speak_transaction(item) for item in result.candidates)
        return f"I found more than one: {listed}. Which one is it?"
    reference = " ".join(result.reference)
    item = result.transaction
    said = (f"the {_amount(item.amount, item.currency)} charge at {item.merchant} on {_day(item.posted_at)}")
    if result.outcome is CaseOutcome.ALREADY_EXISTS:
        return f"There is already a dispute open for {said}. Its reference is {reference}."
    text = f"I've opened a dispute for {said}. Your case reference is {reference}."
    if reason == Dispute.Reason.NOT_RECOGNISED and result.card is not None and result.card.status == "active":
        text += f" Since you don't recognise it, would you like me to block your card ending in {result.card.last4}?"
    return text


@bank_tool(VERIFIED)
async def order_replacement_card(card_last4: str, address_confirmation: str) -> str:
    """Send a replacement card to the address on file (needs verification). Never read the address out:
    ask the caller to confirm the city or ZIP code it should go to.

    card_last4: the last four digits of the card to replace.
    address_confirmation: the city or ZIP code the caller says the card should go to.
    """
    result = await sync_to_async(services.replacement_order)(session=_session(), card_last4=card_last4 or "",
                                                             address_confirmation=address_confirmation or "")
    _verified_now()
    _record("order_replacement_card", result.outcome.value)
    if result.outcome is CaseOutcome.NOT_FOUND:
        return f"I couldn't find a card ending in {card_last4}. Could you check the last four digits?"
    if result.outcome is CaseOutcome.ADDRESS_MISMATCH:
        return ("That doesn't match the address we have on file, so I can't send it there by phone. "
                "You can update your address in a branch, or I can put you through to a person.")
    reference = " ".join(result.reference)
    if result.outcome is CaseOutcome.ALREADY_EXISTS:
        return (f"A replacement for your card ending in {result.card.last4} is already on its way. "
                f"The reference is {reference}.")
    return (f"Done. A replacement for your card ending in {result.card.last4} will arrive at your address on file "
            f"in five to seven working days. Your reference is {reference}.")


_PAYMENT_REFUSALS = {
    PaymentOutcome.CARD_NOT_FOUND: "I couldn't find that card. Which card would you like to pay, by its last four digits?",
    PaymentOutcome.ACCOUNT_NOT_FOUND: "I couldn't find that account of yours to pay from. Which account should I use?",
    PaymentOutcome.INVALID_AMOUNT: ("I need an amount above zero: the minimum payment, the statement balance, "
                                    "or a sum in dollars and cents."),
    PaymentOutcome.NOTHING_DUE: "There's nothing to pay on that card right now.",
    PaymentOutcome.NO_QUOTE: "There's no payment waiting for your yes. What would you like to pay?",
}


def _payment_text(result) -> str:
    card, amount = result.card, result.amount
    if result.outcome in _PAYMENT_REFUSALS:
        return _PAYMENT_REFUSALS[result.outcome]
    if result.outcome is PaymentOutcome.ACCOUNT_AMBIGUOUS:
        listed = " or ".join(f"your {a.kind} account ending in {a.last4}" for a in result.accounts)
        return f"Which account should the payment come from: {listed}?"
    spoken = _amount(amount, result.currency)
    if result.outcome is PaymentOutcome.MORE_THAN_OWED:
        return f"That's more than you owe on that card, which is {_amount(card.current_balance, card.currency)}."
    if result.outcome is PaymentOutcome.OVER_LIMIT:
        return (f"I can't make a payment of {spoken} by phone; the most is "
                f"{_amount(settings.FINTALK_PAYMENT_MAX_AMOUNT, result.currency)}. You can pay more in the app.")
    if result.outcome is PaymentOutcome.INSUFFICIENT_FUNDS:
        return (f"Your {result.account.kind} account ending in {result.account.last4} doesn't have enough for "
                f"{spoken}, so nothing was paid.")
    if result.outcome is PaymentOutcome.QUOTED:
        return (f"To confirm: pay {spoken} to your {card.network} card ending in {card.last4} from your "
                f"{result.account.kind} account ending in {result.account.last4}, today. Shall I go ahead?")
    reference = " ".join(result.reference)
    if result.outcome is PaymentOutcome.ALREADY_PAID:
        return f"That payment of {spoken} is already made. Its reference is {reference}."
    return f"Done. You've paid {spoken} to your card ending in {card.last4}. Your reference is {reference}."


@bank_tool(VERIFIED)
async def prepare_card_payment(card_last4: str, amount: str, from_account_last4: str | None = None) -> str:
    """Prepare a payment of the caller's card bill from their own account and read it back (needs
    verification). Nothing is paid until the caller says a clear yes and you call confirm_card_payment.

    card_last4: the last four digits of the card to pay.
    amount: "minimum", "statement balance", "full balance", or a sum such as 150.00.
    from_account_last4: the last four digits of the caller's account to pay from, if they said.
    """
    result = await sync_to_async(services.payment_prepare)(session=_session(), card_last4=card_last4 or "",
                                                           amount=str(amount or ""),
                                                           from_account_last4=from_account_last4 or None)
    _verified_now()
    _record("prepare_card_payment", result.outcome.value)
    return _payment_text(result)


@bank_tool(VERIFIED)
async def confirm_card_payment() -> str:
    """Make the card payment just read back, after the caller said a clear yes (needs verification).
    Safe to call again: a payment is made once."""
    result = await sync_to_async(services.payment_confirm)(session=_session())
    _verified_now()
    _record("confirm_card_payment", result.outcome.value)
    return _payment_text(result)


@bank_tool(None)
async def transfer_to_human(reason: str) -> str:
    """Hand the caller to a person: when they ask for one, when verification fails, or when you can't help.
    If it says you are putting them through and you have the transferCall tool, call transferCall next.

    reason: a few words for the person taking over, e.g. "caller asked for a person" or "verification failed".
    """
    context = turn()
    reason = (reason or "caller asked for a person").strip()[:200]
    await sync_to_async(services.handoff_record)(session=_session(), reason=reason)
    context.facts.handoff_reason = reason
    _record("transfer_to_human", "recorded")
    if TRANSFER_CALL in context.client_tools:  # the model (and the demo) then calls transferCall
        return "I'm putting you through to a person now."
    return f"To speak with a person, please {settings.FINTALK_HUMAN_CONTACT}."


# Vapi's tool that transfers the call (an assistant's client tool, streamed back to Vapi).
TRANSFER_CALL = "transferCall"

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
