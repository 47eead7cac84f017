"""The demo model understands callers who speak naturally (#29): the caller's choice of security
questions, answers in their own words that verify rather than block, a merchant named alone or
pointed at ("the Shell one, 45.10"), and the request the bank held up for verification taken up
again afterwards, whatever words came in between. Each case failed on the demo before #29; the
scenarios (scenarios/, tests/test_rehearse.py) run the same conversations through the real server.
"""
from bank.actions.verification import SECURITY_QUESTIONS, VERIFIED_NOW
from bank.refusals import NOT_VERIFIED, VERIFICATION_LOCKED
from demo.rules import ASK_ADDRESS, ASK_MERCHANT, decide

FILLER = "One moment while I check that. "  # what the server says before a tool, kept in Vapi's history


def user(text):
    return {"role": "user", "content": [{"text": text}]}


def assistant(text):
    return {"role": "assistant", "content": [{"text": text}]}


def tool_result(text):
    return {"role": "user", "content": [{"toolResult": {"toolUseId": "t1", "content": [{"text": text}]}}]}


def verified_after(*conversation):
    """The step after the caller's code was accepted, at the end of `conversation` (texts, alternating)."""
    messages = [user(text) if n % 2 == 0 else assistant(text) for n, text in enumerate(conversation)]
    return decide(messages + [tool_result(VERIFIED_NOW)], {"verify_code"})


def test_the_caller_may_ask_for_security_questions_instead_of_a_code():
    for words in ("Can you ask me security questions instead?", "I can't get a text on this phone"):
        step = decide([user("What's my balance?"), assistant(FILLER + NOT_VERIFIED), user(words)])
        assert step == SECURITY_QUESTIONS, words


def test_security_answers_in_one_breath_verify_and_never_block_a_card():
    messages = [user("What's my balance?"), assistant(FILLER + NOT_VERIFIED), user("Security questions please"),
                assistant(SECURITY_QUESTIONS), user("1985-04-12, 62701, account 1234")]
    assert decide(messages) == ("verify_security_answers", {
        "date_of_birth": "1985-04-12", "postal_code": "62701", "account_last4": "1234"})


def test_transaction_in_the_answers_does_not_turn_a_balance_request_into_transactions():
    words = "I was born April 12 1985, my zip is 62701, and the account I use for every transaction ends 1234"
    messages = [user("How much money do I have?"), assistant(FILLER + NOT_VERIFIED),
                user("Ask me security questions instead"), assistant(SECURITY_QUESTIONS), user(words)]
    step = decide(messages)
    assert step[0] == "verify_security_answers" and step[1]["date_of_birth"] == "April 12 1985"
    after = decide(messages + [tool_result(VERIFIED_NOW)], {"verify_security_answers"})
    assert after == ("get_account_balances", {})


def test_a_merchant_named_alone_is_the_charge():
    step = decide([user("I want to dispute a charge"), assistant(ASK_MERCHANT), user("Shell")])
    assert step == ("open_dispute", {"merchant": "Shell", "reason": "not_recognised"})


def test_the_shell_one_with_its_amount_is_that_charge():
    messages = [user("I was charged twice for one of those. I'd like to dispute it"), assistant(ASK_MERCHANT),
                user("The Shell one, 45.10")]
    assert decide(messages) == ("open_dispute", {"merchant": "Shell", "reason": "duplicate", "amount": "45.10"})


def test_the_held_up_request_is_taken_up_again_once_verified():
    # A statement-balance payment (no "transactions" intent from the word "statement").
    assert verified_after("I want to pay my card bill", "Which card is it, by its last four digits?", "4242",
                          "How much would you like to pay: the minimum payment, the statement balance, or another "
                          "amount?", "The statement balance", FILLER + NOT_VERIFIED, "Yes", FILLER + "I've sent a "
                          "six-digit code to your registered phone.", "123456") == (
        "prepare_card_payment", {"card_last4": "4242", "amount": "statement balance"})
    # A replacement whose address was confirmed before verification.
    assert verified_after("My card 4242 was stolen", FILLER + "Done. Your Visa card ending in 4242 is now blocked.",
                          "Yes please send a new one", ASK_ADDRESS, "Springfield", FILLER + NOT_VERIFIED, "Yes",
                          "I've sent a code.", "123456") == (
        "order_replacement_card", {"card_last4": "4242", "address_confirmation": "Springfield"})


def test_yes_to_the_offer_after_a_dispute_blocks_that_card():
    opened = (FILLER + "I've opened a dispute for the $899.00 charge at Electronics Hub on November 29. Your case "
              "reference is D - 7 X W D K V. Since you don't recognise it, would you like me to block your card "
              "ending in 4242?")
    step = decide([user("I don't recognise the Electronics Hub charge"), assistant(opened), user("Yes, block it")])
    assert step == ("block_credit_card", {"card_last4": "4242", "reason": "stolen"})


def test_a_code_after_a_lockout_is_still_given_to_the_bank_to_refuse():
    step = decide([user("333333"), assistant(FILLER + VERIFICATION_LOCKED), user("Sorry, it's 401752")])
    assert step == ("verify_code", {"code": "401752"})
