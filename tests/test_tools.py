"""The agent's tools: phone from the turn context, results phrased for the caller, rules enforced."""
import pytest
from django.core.management import call_command

from agent import tools
from bank.actions import REGISTRY
from bank.models import AuditEvent, Card
from tests.support.bank import JANE, JOHN, run_tool


@pytest.fixture
def bank(transactional_db):
    call_command("seed_demo", verbosity=0)


def test_tool_names_and_parameters_are_the_contract():
    specs = {tool.metadata.name: tool.metadata.get_parameters_dict() for tool in tools.build_tools()}
    assert set(specs) == {"get_loan_products", "get_customer_profile", "list_credit_cards", "block_credit_card",
                          "send_verification_code", "verify_code", "verify_security_answers", "get_account_balances",
                          "get_recent_transactions", "open_dispute", "order_replacement_card", "prepare_card_payment",
                          "confirm_card_payment", "transfer_to_human", "get_payment_due", "verify_authenticator_code",
                          "request_app_approval", "check_app_approval", "change_postal_address", "change_email",
                          "start_phone_change", "confirm_phone_change", "order_replacement_card_to_new_address"}
    assert set(specs["block_credit_card"]["properties"]) == {"card_last4", "reason"}
    assert specs["block_credit_card"]["required"] == ["card_last4"]
    assert specs["verify_code"]["required"] == ["code"]
    assert set(specs["open_dispute"]["required"]) == {"merchant", "reason"}
    for name in ("get_customer_profile", "list_credit_cards", "send_verification_code", "confirm_card_payment"):
        assert specs[name]["properties"] == {}  # no phone argument: the model never chooses the account
    for name, spec in specs.items():
        assert "phone" not in str(spec["properties"]), name
    # Every tool declares its level: block stays at the phone line, reading and paying need a code.
    assert REGISTRY["block_credit_card"].level == 0
    assert {REGISTRY[name].level for name in ("get_account_balances", "get_recent_transactions", "open_dispute",
                                              "order_replacement_card", "prepare_card_payment",
                                              "confirm_card_payment")} == {1}
    # What changes who the customer is needs a second factor (level 2).
    assert {REGISTRY[name].level for name in ("change_postal_address", "change_email", "start_phone_change",
                                              "confirm_phone_change", "order_replacement_card_to_new_address")} == {2}
    assert set(specs) <= set(REGISTRY)


def test_loan_products_from_the_database(bank):
    text, calls = run_tool("get_loan_products", kind="home")
    assert "Fixed Rate Home Loan" in text and "Car" not in text and "5.49 percent" in text
    assert calls == [("get_loan_products", "ok")]
    everything, _ = run_tool("get_loan_products")
    assert all(name in everything for name in ("Personal", "Home", "Car"))
    assert "no loan kind called boat" in run_tool("get_loan_products", kind="boat")[0]


def test_profile_and_cards_need_the_callers_phone(bank):
    assert run_tool("get_customer_profile")[1] == [("get_customer_profile", "not_identified")]
    assert "can't identify you" in run_tool("list_credit_cards")[0]
    assert run_tool("get_customer_profile", phone=JANE)[0] == "You're Jane, and you hold 1 card with us."
    text, _ = run_tool("list_credit_cards", phone=JOHN)
    assert text == "You have a Mastercard, which is active; a Visa card, which is active."
    assert "5454" not in text and "1881" not in text  # #27: level 0 never says a card's digits (a security answer)
    assert "Jane" not in text
    assert run_tool("list_credit_cards", phone="+15550109999")[1] == [("list_credit_cards", "customer_not_found")]


def test_block_credit_card_rules(bank):
    assert run_tool("block_credit_card", card_last4="4242")[1] == [("block_credit_card", "not_identified")]
    assert run_tool("block_credit_card", phone=JANE, card_last4="42")[1] == \
        [("block_credit_card", "invalid_last4")]
    text, calls = run_tool("block_credit_card", phone=JANE, card_last4="5454")
    assert calls == [("block_credit_card", "card_not_found")] and "nothing was blocked" in text
    assert "John" not in text
    text, calls = run_tool("block_credit_card", phone=JANE, card_last4="4 2 4 2", reason="stolen")
    assert calls == [("block_credit_card", "blocked")] and "now blocked" in text
    assert Card.objects.get(last4="4242").block_reason == "stolen"
    assert AuditEvent.objects.get().request_id == "req-tools"
    text, calls = run_tool("block_credit_card", phone=JANE, card_last4="4242")
    assert calls == [("block_credit_card", "already_blocked")] and AuditEvent.objects.count() == 1




def test_payment_due_needs_verification_then_says_the_minimum_and_the_day(bank):
    from django.core.cache import caches

    from agent.context import TurnContext
    from bank.verification import VERIFIED, CallSession

    context = TurnContext(phone=JANE, call_id="call-due", request_id="req-due")
    text, calls = run_tool("get_payment_due", context=context, card_last4="4242")
    assert text.startswith("Before I can do that") and calls == [("get_payment_due", "not_verified")]
    caches["default"].set(f"fintalk:verified:{CallSession(JANE, 'call-due').key}", VERIFIED)
    text, calls = run_tool("get_payment_due", context=context, card_last4="4 2 4 2")
    assert text.startswith("Your Visa card ending in 4242 has $35.00 due by ") and calls[-1] == ("get_payment_due", "due")
    assert run_tool("get_payment_due", context=context, card_last4="5454")[1][-1] == ("get_payment_due", "not_found")
