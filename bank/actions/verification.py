"""Verification actions (bank.verification): a one-time code to the registered phone, or the security
questions. They need no level (`level=None`): they are how a caller reaches one, so they run even on a
line the carrier did not attest (bank.line); their services identify the caller by the registered phone."""
from bank import verification
from bank.actions.declare import Outcome, action, result
from bank.verification import CodeOutcome

_C = CodeOutcome
SECURITY_QUESTIONS = ("I can verify you with three security questions instead: your date of birth, the ZIP code "
                      "of your address, and the last four digits of your checking or savings account. Or I can put "
                      "you through to a person.")
OTHER_WAYS = ("For your security I can't send a text to your phone right now. I can verify you with three security "
              "questions (your date of birth, the ZIP code of your address, and the last four digits of your checking "
              "or savings account), with a code from your authenticator app, or put you through to a person.")
VERIFIED_NOW = "Thank you, you're verified. What would you like to do?"


@action(level=None, audit="verification", outcomes={
    _C.SENT.value: Outcome("I've sent a six-digit code to your registered phone. Please read it to me, or type it on "
                           "your keypad. It expires in five minutes."),
    _C.ALREADY_VERIFIED.value: Outcome("You're already verified on this call, so there's no need for a code.",
                                       verifies=True),
    _C.SEND_FAILED.value: Outcome("I couldn't send a code to your phone just now. " + SECURITY_QUESTIONS),
    _C.SIM_SWAPPED.value: Outcome(OTHER_WAYS),
    _C.TOO_SOON.value: Outcome("I've just sent you a code; it can take a moment to arrive. Please read it to me, or "
                               "type it on your keypad, when it does."),
    _C.LIMIT_REACHED.value: Outcome("I can't send you another code right now. " + SECURITY_QUESTIONS),
})
def send_verification_code(session):
    """Text a six-digit one-time code to the caller's registered phone, to verify who they are.
    Needed before balances, transactions, disputes, replacement cards and payments."""
    return result(verification.code_send(session))


@action(level=None, audit="verification", secrets=("code",), outcomes={
    _C.VERIFIED.value: Outcome(VERIFIED_NOW, verifies=True),
    _C.ALREADY_VERIFIED.value: Outcome(VERIFIED_NOW, verifies=True),
    _C.INVALID.value: Outcome("A code is six digits, with no letters. Could you read it to me again?"),
    _C.NO_CODE.value: Outcome("That code has expired or was already used. Shall I send you a new one?"),
    _C.WRONG.value: Outcome("That code isn't right. Please check the text message and read me the six digits again.",
                            identity_failure=True),
})
def verify_code(session, code: str):
    """Check the six-digit one-time code the caller read back or typed on the keypad.

    code: the six digits exactly as the caller gave them.
    """
    return result(verification.code_check(session, str(code or "")))


@action(level=None, audit="verification", outcomes={
    "verified": Outcome(VERIFIED_NOW, verifies=True),
    "wrong": Outcome("I'm sorry, those answers don't match our records, so I can't verify you that way.",
                     identity_failure=True),
})
def verify_security_answers(session, date_of_birth: str, postal_code: str, account_last4: str):
    """Verify the caller with security questions, when a one-time code can't be used. Ask all three first.

    date_of_birth: the caller's date of birth, as YYYY-MM-DD.
    postal_code: the ZIP code of the caller's address, as they said it.
    account_last4: the last four digits of one of the caller's checking or savings accounts.
    """
    right = verification.security_answers_check(session, date_of_birth=date_of_birth or "",
                                                postal_code=postal_code or "", account_last4=account_last4 or "")
    return result("verified" if right else "wrong")
