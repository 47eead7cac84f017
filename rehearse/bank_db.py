"""The rehearsed server's database, read (and reset) through the ORM from the runner's process.

The runner keeps its results in its own default database (the console shows them); the bank it
checks is the server's. `attach(url)` adds that database under the alias `bank_under_test` and a
router that sends the bank's, the calls' and the outbound calls' models there, so the checks are
plain ORM queries over the real records (a blocked card, a dispute, one payment, a call's turns).
"""
import json
import re
from pathlib import Path

from django.conf import settings
from django.db import connections, router, transaction

ALIAS = "bank_under_test"
ROUTED_APPS = frozenset({"bank", "calls", "outbound"})


class _BankRouter:
    def db_for_read(self, model, **hints):
        return ALIAS if model._meta.app_label in ROUTED_APPS else None

    db_for_write = db_for_read

    def allow_relation(self, a, b, **hints):
        return None

    def allow_migrate(self, db, app_label, **hints):
        return False if db == ALIAS else None  # the server migrates its own database


def attach(database_url: str) -> None:
    import dj_database_url

    config = dj_database_url.parse(database_url)
    if config["ENGINE"].endswith("sqlite3"):  # as fintalk.settings opens SQLite: writers queue, readers never block
        config["OPTIONS"] = {"transaction_mode": "IMMEDIATE", "timeout": 20}
    databases = {**settings.DATABASES, ALIAS: config}
    settings.DATABASES[ALIAS] = config
    connections.settings = connections.configure_settings(databases)
    if not any(isinstance(r, _BankRouter) for r in router.routers):
        router.routers.insert(0, _BankRouter())


def detach() -> None:
    router.routers[:] = [r for r in router.routers if not isinstance(r, _BankRouter)]
    if ALIAS in connections.settings:
        try:
            connections[ALIAS].close()
        except Exception:
            pass


def reset_bank() -> None:
    """The demo bank as `seed_demo` made it: cards active with their bills, balances as seeded, the
    seeded transactions only, no cases, payments, audit events or outbound requests. The customers keep their rows (and ids): a
    call recorded a moment ago still finds its customer when the server's writer stores it."""
    from decimal import Decimal

    from bank.demo_data import CUSTOMERS
    from bank.models import AuditEvent, Card, CardPayment, CardReplacement, Customer, Dispute, Transaction
    from outbound.models import OutboundRequest

    with transaction.atomic(using=ALIAS):
        customers = {c.phone: c for c in Customer.objects.filter(phone__in=[row[1] for row in CUSTOMERS])}
        if len(customers) < len(CUSTOMERS):
            _seed_from_scratch()
            return
        for model in (OutboundRequest, CardPayment, CardReplacement, Dispute, AuditEvent):
            model.objects.all().delete()
        Transaction.objects.exclude(confirmed_genuine_at=None).update(confirmed_genuine_at=None)
        seeded = {(phone, merchant, Decimal(amount)) for _, phone, _, _, _, rows in CUSTOMERS
                  for _, _, merchant, amount, _ in rows}
        Transaction.objects.filter(pk__in=[t.pk for t in Transaction.objects.select_related("customer")
                                           if (t.customer.phone, t.merchant, t.amount) not in seeded]).delete()
        for name, phone, profile, cards, accounts, transactions in CUSTOMERS:
            customer = customers[phone]
            for network, last4, bill in cards:
                bill = {field: Decimal(bill.get(field, "0")) for field in
                        ("current_balance", "statement_balance", "minimum_due")}
                Card.objects.filter(customer=customer, last4=last4).update(
                    status=Card.Status.ACTIVE, blocked_at=None, block_reason="", **bill)
            for kind, last4, balance in accounts:
                customer.accounts.filter(last4=last4).update(balance=Decimal(balance))
    connections[ALIAS].close()  # SQLite: let the server's workers write without waiting on us


def _seed_from_scratch() -> None:
    from bank.management.commands.seed_demo import Command

    # The command's own transaction is on the default database (the runner's, maybe the same SQLite
    # file, which an IMMEDIATE transaction would lock): its body runs in the caller's, on the bank's.
    Command.handle.__wrapped__(Command(stdout=_Null()), reset=True)


def close() -> None:
    """Let go of the server's database between reads (SQLite: its workers never wait on us)."""
    connections[ALIAS].close()


class _Null:
    def write(self, *args):
        pass

    def flush(self):
        pass


def codes_sent(sms_path: Path | None, phone: str | None = None) -> list[str]:
    """The one-time codes texted so far (the file backend's JSON lines), oldest first."""
    if not sms_path or not Path(sms_path).exists():
        return []
    codes = []
    for line in Path(sms_path).read_text().splitlines():
        try:
            message = json.loads(line)
        except ValueError:
            continue
        if phone and message.get("to") not in (None, phone):
            continue
        if match := re.search(r"\b(\d{6})\b", message.get("message", "")):
            codes.append(match.group(1))
    return codes
