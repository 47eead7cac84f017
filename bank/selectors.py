"""Reads of the bank's data (HackSoft style: selectors read, services write). Agent tools call these."""
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
