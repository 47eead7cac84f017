"""What every bank tool shares: its declared verification level, the bank's refusals said aloud,
the call's session from the turn context, and how amounts and dates are said."""
import functools
from decimal import Decimal

from agent.context import current_turn_context
from bank.verification import VERIFIED, CallSession, Denied, Reason

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
                record(fn.__name__, denied.reason.value)
                return REFUSALS[denied.reason]

        return tool

    return declare


def session() -> CallSession:
    context = current_turn_context()
    return CallSession(context.phone, context.call_id, context.request_id)


def money(amount: Decimal, currency: str = "USD") -> str:
    """"$1,200.50" (the voice says it); other currencies by their code."""
    return f"${amount:,.2f}" if currency == "USD" else f"{amount:,.2f} {currency}"


def day(when) -> str:
    return f"{when:%B} {when.day}"


def weekday(when) -> str:
    """"Thursday, November 26": a day a caller is asked about or promises."""
    return f"{when:%A, %B} {when.day}"


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def record(tool: str, outcome: str) -> None:
    current_turn_context().meter.tool_calls.append((tool, outcome))


def verified_now() -> None:
    """A level-1 tool got past the bank's check: the call is verified (bank.verification.require)."""
    current_turn_context().facts.verification_level = VERIFIED
