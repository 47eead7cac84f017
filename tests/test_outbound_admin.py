"""The outbound admin actions in-process, as staff: "Place payment reminder" on cards (bank/admin.py
lists it), "Place fraud alert" on transactions (for the Transaction admin), "Cancel" on requests."""
import pytest
from django.contrib import admin
from django.contrib.messages import get_messages
from django.contrib.messages.storage.fallback import FallbackStorage
from django.core.management import call_command
from django.test import RequestFactory

from bank.models import Card, Transaction
from fintalk.celery import app as celery_app
from outbound.admin_actions import place_fraud_alert
from outbound.models import OutboundRequest


@pytest.fixture(autouse=True)
def no_broker():
    before = celery_app.conf.broker_url
    celery_app.conf.broker_url = "memory://"  # tasks queued on commit stay in this process
    yield
    celery_app.conf.broker_url = before


@pytest.fixture
def bank(transactional_db):
    call_command("seed_demo", verbosity=0)


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def test_place_payment_reminder_on_cards_then_cancel(bank, admin_client):
    cards = Card.objects.filter(last4__in=["4242", "1881"]).order_by("last4")
    response = admin_client.post("/admin/bank/card/", {"action": "place_payment_reminder",
                                                        "_selected_action": [card.pk for card in cards]}, follow=True)
    shown = messages_of(response)
    assert any("1 call requested" in text for text in shown), shown
    assert any("Nothing is due on the card ending 1881" in text for text in shown), shown
    (reminder,) = OutboundRequest.objects.all()
    assert (reminder.purpose, reminder.card.last4, reminder.created_by) == ("payment_reminder", "4242", "admin")
    again = admin_client.post("/admin/bank/card/", {"action": "place_payment_reminder",
                                                     "_selected_action": [cards[1].pk, reminder.card_id]}, follow=True)
    assert any("already had a call requested" in text for text in messages_of(again))
    assert OutboundRequest.objects.count() == 1
    page = admin_client.get(f"/admin/outbound/outboundrequest/{reminder.pk}/change/")
    assert page.status_code == 200 and "+15550100001" not in page.content.decode()
    cancelled = admin_client.post("/admin/outbound/outboundrequest/", {"action": "cancel_requests",
                                                                       "_selected_action": [reminder.pk]}, follow=True)
    assert any("1 request cancelled." in text for text in messages_of(cancelled))
    reminder.refresh_from_db()
    assert reminder.status == "cancelled"


def test_place_fraud_alert_on_transactions(bank, admin_user):
    request = RequestFactory().post("/admin/bank/transaction/")
    request.user = admin_user
    request.session = {}
    request._messages = FallbackStorage(request)
    purchases = Transaction.objects.filter(merchant__in=["Electronics Hub", "Acme Payroll"])
    place_fraud_alert(admin.ModelAdmin(Transaction, admin.site), request, purchases)
    shown = [str(message) for message in request._messages]
    assert any("1 call requested" in text for text in shown) and any("is about a purchase on a card" in text for text in shown)
    (alert,) = OutboundRequest.objects.all()
    assert (alert.purpose, alert.transaction.merchant, alert.status) == ("fraud_alert", "Electronics Hub", "pending")


def test_retry_asks_again_for_a_failed_or_cancelled_request(bank, admin_client):
    from outbound import services

    spent = Transaction.objects.get(merchant="Electronics Hub")
    failed, _ = services.fraud_alert_create(customer_id=spent.customer_id, transaction_id=spent.pk, created_by="fraud")
    OutboundRequest.objects.filter(pk=failed.pk).update(status="failed", outcome="no_answer")
    response = admin_client.post("/admin/outbound/outboundrequest/", {"action": "retry_requests",
                                                                      "_selected_action": [failed.pk]}, follow=True)
    again = OutboundRequest.objects.exclude(pk=failed.pk).get()
    assert any(f"Asked again as request #{again.pk}" in text for text in messages_of(response))
    assert (again.status, again.transaction_id, again.created_by) == ("pending", spent.pk, "admin")
    twice = admin_client.post("/admin/outbound/outboundrequest/", {"action": "retry_requests",
                                                                   "_selected_action": [failed.pk, again.pk]}, follow=True)
    shown = messages_of(twice)
    assert any(f"request #{again.pk} for the same call is already pending" in text for text in shown), shown
    assert any("only a failed or cancelled request is retried" in text for text in shown), shown
    assert OutboundRequest.objects.count() == 2
