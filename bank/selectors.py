"""Reads of the bank's data (HackSoft style: selectors read, services write). Agent tools call these."""
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
