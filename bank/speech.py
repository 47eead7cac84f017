"""How the bank says things to a caller: money, days, counts, a card's name and last four digits.
One way each, used by every action's words (bank.actions) and by the agent's instructions."""
import re
from decimal import Decimal


def money(amount: Decimal | int | None, currency: str = "USD") -> str:
    """"$1,200.50" (the voice says it); other currencies by their code."""
    if amount is None:
        return "an amount"
    return f"${amount:,.2f}" if (currency or "USD") == "USD" else f"{amount:,.2f} {currency}"


def day(when) -> str:
    """"November 26"."""
    return f"{when:%B} {when.day}"


def weekday(when) -> str:
    """"Thursday, November 26": a day a caller is asked about or promises."""
    return f"{when:%A, %B} {when.day}"


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def card_name(network: str) -> str:
    """"Visa card", "Mastercard" (never "a Mastercard card")."""
    return network if network.lower().endswith("card") else f"{network} card"


def digits(text: str | None) -> str:
    """The digits a caller gave ("4 2-4 2" -> "4242"): how last-four digits are cleaned, everywhere."""
    return re.sub(r"\D", "", str(text or ""))
