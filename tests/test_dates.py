"""One rule for dates (bank/dates.py): a customer's moment is shown in the customer's time zone in the
console's call list, call page and CSV, in the transaction admin and in the outbound call's brief. A
purchase at 02:30 UTC on November 29 is November 28 to Jane, in Chicago, everywhere."""
import csv
import io
from datetime import datetime, timezone
from decimal import Decimal

import pytest
from django.core.management import call_command

from bank import dates
from bank.models import Customer, Transaction
from calls.models import Call

MOMENT = datetime(2026, 11, 29, 2, 30, tzinfo=timezone.utc)


def test_the_rule():
    assert dates.shown(MOMENT, "America/Chicago") == "2026-11-28 20:30:00 CST"
    assert dates.local_date(MOMENT, "America/Chicago").isoformat() == "2026-11-28"
    assert dates.shown(MOMENT, None) == "2026-11-29 02:30:00 UTC"  # no customer: UTC, and it says so
    assert dates.shown(MOMENT, "Not/AZone") == "2026-11-29 02:30:00 UTC"


@pytest.mark.django_db
def test_console_csv_admin_and_brief_show_the_customers_day(admin_client):
    call_command("seed_demo", verbosity=0)
    jane = Customer.objects.get(phone="+15550100001")
    assert jane.time_zone == "America/Chicago"
    call = Call.objects.create(call_id="call-dated", type="inbound", customer=jane, started_at=MOMENT, ended_at=MOMENT)
    Call.objects.create(call_id="call-anonymous", type="api", started_at=MOMENT)
    listed = admin_client.get("/console/calls/").content.decode()
    assert "2026-11-28 20:30:00 CST" in listed and "2026-11-29 02:30:00 UTC" in listed
    assert "2026-11-28 20:30:00 CST" in admin_client.get(f"/console/calls/{call.pk}/").content.decode()
    rows = {row["call_id"]: row for row in csv.DictReader(io.StringIO(
        admin_client.get("/console/calls/?format=csv").content.decode()))}
    assert rows["call-dated"]["started_at"] == "2026-11-28T20:30:00-06:00"
    assert rows["call-anonymous"]["started_at"] == "2026-11-29T02:30:00+00:00"

    spent = Transaction.objects.filter(customer=jane, merchant="Electronics Hub").get()
    Transaction.objects.filter(pk=spent.pk).update(posted_at=MOMENT)
    assert "2026-11-28 20:30 CST" in admin_client.get("/admin/bank/transaction/").content.decode()
    spent.refresh_from_db()
    assert str(spent).startswith("2026-11-28 Electronics Hub")  # how a request's page names it

    from outbound.selectors import outbound_context
    from outbound.services import fraud_alert_create

    from outbound.models import OutboundAttempt, OutboundRequest

    request, _ = fraud_alert_create(customer_id=jane.pk, transaction_id=spent.pk, created_by="test")
    # The call the bank placed for it, live (an outbound context holds only on that call).
    OutboundAttempt.objects.create(request=request, number=1, vapi_call_id="call-dates", status="placed")
    OutboundRequest.objects.filter(pk=request.pk).update(status=OutboundRequest.Status.CALLING)
    context = outbound_context({"call": {"id": "call-dates", "type": "outboundPhoneCall",
                                         "customer": {"externalId": str(request.pk)}}})
    assert context.transaction_date.isoformat() == "2026-11-28" and context.amount == Decimal("899.00")
