"""Level 2 (step-up): the second factors (an authenticator code, an approval in the bank's app) and
the changes they allow (bank.changes): the postal address, the email, the registered phone, and a
replacement card to an address not on file."""
from bank import push, totp
from bank.actions.declare import Outcome, action, result
from bank.actions.verification import VERIFIED_NOW
from bank.changes import ChangeOutcome, address_change, email_change, phone_change_confirm, phone_change_start, \
    replacement_to_new_address
from bank.push import PushOutcome
from bank.totp import TotpOutcome
from bank.verification import STEP_UP, VERIFIED

_T, _P, _C = TotpOutcome, PushOutcome, ChangeOutcome
OR_APP = "I can send an approval to our mobile app instead, or put you through to a person."
OR_AUTHENTICATOR = "You can give me a code from your authenticator app instead, or I can put you through to a person."
STEPPED_UP = "Thank you, that's the second proof I needed."
ALREADY = "You've already given me a second proof on this call."
NOTICE = "We've sent a notice to your previous contact details."


@action(level=None, audit="verification", secrets=("code",), outcomes={
    _T.VERIFIED.value: Outcome(VERIFIED_NOW, verifies=True),
    _T.STEPPED_UP.value: Outcome(STEPPED_UP, verifies=True),
    _T.ALREADY.value: Outcome(ALREADY, verifies=True),
    _T.WRONG.value: Outcome("That authenticator code isn't right. Please read me the six digits your app shows now.",
                            identity_failure=True),
    _T.REPLAYED.value: Outcome("That code was already used. Please wait for the next code in your authenticator app "
                               "and read me that one.", identity_failure=True),
    _T.INVALID.value: Outcome("An authenticator code is six digits. Could you read it to me again?"),
    _T.NOT_ENROLLED.value: Outcome("You don't have an authenticator app set up with us. " + OR_APP),
    _T.OTHER_FACTOR.value: Outcome("You've already used your authenticator on this call. For this I also need an "
                                   "approval in our mobile app, or I can put you through to a person."),
    _T.UNAVAILABLE.value: Outcome("I can't check authenticator codes right now. " + OR_APP),
    _T.NOT_OFFERED.value: Outcome("I can't take authenticator codes on this line. " + OR_APP),
})
def verify_authenticator_code(session, code: str):
    """Check a six-digit code from the caller's authenticator app: the second proof that changes of
    address, phone, email or where a card goes need, or a way to verify when a text can't be sent.

    code: the six digits exactly as the caller read them or typed them.
    """
    return result(totp.check(session, str(code or "")))


@action(level=VERIFIED, audit="app_approval", outcomes={
    _P.SENT.value: Outcome("I've sent a request to our mobile app on your phone. Please open the app and approve it; "
                           "I'm waiting for it now."),
    _P.SEND_FAILED.value: Outcome("I couldn't reach our mobile app just now. " + OR_AUTHENTICATOR),
    _P.ALREADY.value: Outcome(ALREADY, verifies=True),
    _P.NOT_OFFERED.value: Outcome("I can't send approvals to our app on this line. " + OR_AUTHENTICATOR),
})
def request_app_approval(session):
    """Send an approval request to the caller's mobile banking app, as the second proof a change of
    address, phone, email or where a card goes needs (needs verification). Then call check_app_approval."""
    return result(push.request(session))


@action(level=VERIFIED, reads=True, audit="app_approval", outcomes={
    _P.APPROVED.value: Outcome("Thank you, I can see you approved it in the app.", verifies=True),
    _P.DENIED.value: Outcome("The request was declined in the app, so I won't make that change. If you didn't expect "
                             "it, I can put you through to a person."),
    _P.WAITING.value: Outcome("I'm still waiting for your approval in the app. Tell me once you've approved it."),
    _P.EXPIRED.value: Outcome("The approval request in the app has timed out, so nothing was changed. I can send a new "
                              "one, or you can give me a code from your authenticator app."),
    _P.NO_REQUEST.value: Outcome("There's no approval waiting in your app. Shall I send one?"),
    _P.ALREADY.value: Outcome(ALREADY, verifies=True),
})
def check_app_approval(session):
    """Wait a few seconds for the caller's answer to the approval sent to their app (needs
    verification): after request_app_approval, or when the caller says they approved it."""
    return result(push.wait(session))


_INVALID_ADDRESS = "I need the street address, the city and the ZIP code. Could you give me all three?"


@action(level=STEP_UP, audit="address_change", outcomes={
    _C.CHANGED.value: Outcome("Done. Your postal address is updated. " + NOTICE, commits=True),
    _C.UNCHANGED.value: Outcome("That's already the address we have on file, so nothing changed."),
    _C.INVALID.value: Outcome(_INVALID_ADDRESS),
})
def change_postal_address(session, address_line: str, city: str, postal_code: str):
    """Change the caller's postal address on file (needs verification and a second proof: an
    authenticator code or an app approval).

    address_line: the street address, e.g. 5 Elm Road, Apt 2.
    city: the city.
    postal_code: the ZIP or postal code.
    """
    return result(address_change(session=session, address_line=address_line or "", city=city or "",
                                 postal_code=postal_code or "").outcome)


@action(level=STEP_UP, audit="email_change", outcomes={
    _C.CHANGED.value: Outcome("Done. Your email address is updated. " + NOTICE, commits=True),
    _C.UNCHANGED.value: Outcome("That's already your email address with us, so nothing changed."),
    _C.INVALID.value: Outcome("That doesn't look like an email address. Could you spell it for me?"),
})
def change_email(session, email: str):
    """Change the caller's contact email (needs verification and a second proof).

    email: the new email address, as the caller spelt it.
    """
    return result(email_change(session=session, email=email or "").outcome)


_TAKEN = "I can't use that number for your account by phone. I can put you through to a person."


@action(level=STEP_UP, audit="phone_change", outcomes={
    _C.CODE_SENT.value: Outcome("I've sent a six-digit code to the new number ending in {last4}. Please read it to me "
                                "to finish the change; until then your registered phone stays the same."),
    _C.SEND_FAILED.value: Outcome("I couldn't send a code to the number ending in {last4}, so nothing changed. Could "
                                  "you check the number?"),
    _C.INVALID.value: Outcome("That doesn't look like a full phone number. Could you give it to me with the country "
                              "code?"),
    _C.UNCHANGED.value: Outcome("That's already your registered phone, so nothing changed."),
    _C.PHONE_TAKEN.value: Outcome(_TAKEN),
})
def start_phone_change(session, new_number: str):
    """Start changing the caller's registered phone, where codes go (needs verification and a second
    proof): a code is sent to the new number, and the change is made by confirm_phone_change.

    new_number: the new number with its country code, e.g. +15550100123.
    """
    done = phone_change_start(session=session, new_phone=new_number or "")
    return result(done.outcome, last4=done.last4)


@action(level=STEP_UP, audit="phone_change", secrets=("code",), outcomes={
    _C.CHANGED.value: Outcome("Done. Your registered phone is now the number ending in {last4}. " + NOTICE,
                              commits=True),
    _C.WRONG_CODE.value: Outcome("That code isn't right. Please check the text on your new phone and read me the six "
                                 "digits again.", identity_failure=True),
    _C.NO_CODE.value: Outcome("There's no phone change waiting, or its code has expired. Shall I send a new code to the "
                              "new number?"),
    _C.PHONE_TAKEN.value: Outcome(_TAKEN),
})
def confirm_phone_change(session, code: str):
    """Finish changing the registered phone with the six-digit code the caller received on the new number.

    code: the six digits exactly as the caller read them or typed them.
    """
    done = phone_change_confirm(session=session, code=str(code or ""))
    return result(done.outcome, last4=done.last4)


@action(level=STEP_UP, audit="card_replacement", outcomes={
    _C.ORDERED.value: Outcome("Done. A replacement for your card ending in {last4} will go to the address you gave me "
                              "in five to seven working days. Your reference is {reference}. " + NOTICE, commits=True),
    _C.ALREADY_EXISTS.value: Outcome("A replacement for your card ending in {last4} is already on its way. The "
                                     "reference is {reference}."),
    _C.CARD_NOT_FOUND.value: Outcome("I couldn't find a card ending in {last4}. Could you check the last four digits?"),
    _C.INVALID.value: Outcome(_INVALID_ADDRESS),
})
def order_replacement_card_to_new_address(session, card_last4: str, address_line: str, city: str, postal_code: str):
    """Send a replacement card to an address that is not the one on file (needs verification and a
    second proof). For the address on file use order_replacement_card.

    card_last4: the last four digits of the card to replace.
    address_line: the street address it should go to.
    city: the city.
    postal_code: the ZIP or postal code.
    """
    done = replacement_to_new_address(session=session, card_last4=card_last4 or "", address_line=address_line or "",
                                      city=city or "", postal_code=postal_code or "")
    return result(done.outcome, last4=done.last4, reference=" ".join(done.reference))
