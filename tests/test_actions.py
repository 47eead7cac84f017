"""Every bank action's declaration (bank.actions) is whole and tells the truth about its level: each
agent tool is a declared action with a level, every outcome it can return is declared, and no action
declares less than what its services require (run at its declared level, a service never refuses it
for want of verification)."""
import dataclasses
import inspect

import pytest
from django.core.cache import caches
from django.core.management import call_command

from agent.tools import build_tools
from bank.actions import REGISTRY, result
from bank.actions.declare import REFUSED, perform
from bank.refusals import Denied, Reason
from bank.verification import PHONE_LINE, STEP_UP, VERIFIED, CallSession
from bank.models import Customer, Transaction
from outbound import selectors, services
from outbound.models import OutboundRequest
from tests.support.bank import JANE

NO_ACCOUNT = {"get_loan_products", "transfer_to_human"}  # the only actions that touch no account
# How a level is reached: no level needed (they run on an unattested line too); their services identify the caller.
VERIFYING = {"send_verification_code", "verify_code", "verify_security_answers", "verify_authenticator_code"}
SAMPLES = {"card_last4": "4242", "account_last4": "1234", "last4": "4242", "from_account_last4": "1234",
           "merchant": "Shell", "reason": "not_recognised", "amount": "minimum", "code": "123456",
           "date": "2030-01-01", "date_of_birth": "1985-04-12", "postal_code": "62701",
           "address_confirmation": "62701", "kind": "home", "made_by_customer": True, "count": 3,
           "email": "jane@example.org", "address_line": "5 Elm Road", "city": "Shelbyville", "new_number": "+15550100123"}


@pytest.fixture
def bank(transactional_db):
    call_command("seed_demo", verbosity=0)
    yield
    caches["default"].clear()


def test_every_agent_tool_is_a_declared_action_with_a_level():
    for tool in build_tools(outbound=True):
        declared = REGISTRY[tool.metadata.name]
        assert declared.level in (None, PHONE_LINE, VERIFIED, STEP_UP), declared.name
        assert (declared.level is None) == (declared.name in NO_ACCOUNT | VERIFYING), declared.name
        assert declared.outcomes and all(outcome.says for outcome in declared.outcomes.values()), declared.name
        assert "session" not in tool.metadata.get_parameters_dict()["properties"], declared.name
        if declared.confirms:
            assert declared.confirms in REGISTRY, declared.name


def test_an_undeclared_outcome_is_refused():
    declared = dataclasses.replace(REGISTRY["get_loan_products"], run=lambda session, **_: result("made_up"))
    with pytest.raises(ValueError, match="undeclared outcome 'made_up'"):
        perform(declared, CallSession(JANE), {})


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_no_action_declares_less_than_its_services_require(bank, name):
    declared = REGISTRY[name]
    session = CallSession(JANE, f"call-{name}", turn=2, outbound=_outbound(declared.purpose))
    if (declared.level or 0) >= VERIFIED:
        caches["default"].set(f"fintalk:verified:{session.key}", declared.level)
    parameters = [p for p in inspect.signature(declared.run).parameters if p != "session"]
    arguments = {p: SAMPLES[p] for p in parameters}
    try:  # the function itself, without perform's check: only the services' own checks apply
        done = declared.run(session, **arguments)
    except Denied as denied:
        assert denied.reason not in (Reason.NOT_VERIFIED, Reason.NEEDS_SECOND_FACTOR), \
            f"{name} declares level {declared.level}, its services need more"
        return
    assert done.outcome in declared.outcomes or done.outcome in REFUSED, (name, done.outcome)
    declared.says(done)  # every fact its words need is there


def _outbound(purpose):
    """A real request of the bank's for an outbound action's purpose, as its call would carry it."""
    if purpose is None:
        return None
    jane = Customer.objects.for_phone(JANE)
    if purpose == OutboundRequest.Purpose.FRAUD_ALERT:
        spent = Transaction.objects.filter(customer=jane, card__isnull=False).first()
        request, _ = services.fraud_alert_create(customer_id=jane.pk, transaction_id=spent.pk, created_by="test")
    else:
        card = jane.cards.first()
        request, _ = services.payment_reminder_create(customer_id=jane.pk, card_id=card.pk, created_by="test")
    return selectors._context(request)
