"""Reads of the bank's data (HackSoft style: selectors read, services write). Agent tools call these."""
import hashlib

from django.core.cache import caches
from django.db.models import Count, Q

from bank.models import Card, Customer, LoanProduct


def loan_product_list(*, kind: str | None = None) -> list[LoanProduct]:
    products = LoanProduct.objects.all()
    if kind:
        products = products.filter(kind=kind)
    return list(products)


def customer_get_by_phone(*, phone: str) -> Customer | None:
    return Customer.objects.filter(phone=phone).first()


def card_list(*, customer: Customer) -> list[Card]:
    return list(customer.cards.order_by("id"))


def caller_summary(*, phone: str) -> tuple[str, int, int] | None:
    """(first name, cards held, cards blocked) of the customer with this phone, in one indexed query."""
    row = (Customer.objects.filter(phone=phone)
           .annotate(cards_held=Count("cards"), cards_blocked=Count("cards", filter=Q(cards__status=Card.Status.BLOCKED)))
           .values_list("name", "cards_held", "cards_blocked").first())
    if row is None:
        return None
    name, held, blocked = row
    return (name.split()[0] if name else ""), held, blocked


def _phone_key(kind: str, phone: str) -> str:
    # A digest, so that the shared cache's key names hold no phone number.
    return f"fintalk:{kind}:{hashlib.sha256(phone.encode()).hexdigest()[:32]}"


def wrong_last4_key(phone: str) -> str:
    return _phone_key("wrong-last4", phone)


def card_lockout_key(phone: str) -> str:
    return _phone_key("card-lockout", phone)


def card_actions_locked(*, phone: str) -> bool:
    """Card actions by phone are locked for this phone after too many wrong last-four digits
    (`bank.services.card_block` counts them in the shared cache, so every worker agrees)."""
    return caches["default"].get(card_lockout_key(phone)) is not None
