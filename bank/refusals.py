"""Why the bank refuses a caller's request, and what the caller hears: one exception, raised by the
bank's own checks (bank.verification, bank.lockouts), said aloud through the action's declaration
(bank.actions)."""
import enum


class Reason(str, enum.Enum):
    NOT_IDENTIFIED = "not_identified"  # no phone on the call
    CUSTOMER_NOT_FOUND = "customer_not_found"  # the phone is not registered
    NOT_VERIFIED = "not_verified"  # the level needed is not reached yet
    NEEDS_SECOND_FACTOR = "needs_second_factor"  # verified (level 1), but the action needs level 2
    LOCKED_OUT = "locked_out"  # too many wrong codes / answers for this phone
    SECURITY_UNAVAILABLE = "security_unavailable"  # the shared cache is down: fail closed


class Denied(Exception):
    def __init__(self, reason: Reason):
        super().__init__(reason.value)
        self.reason = reason


# Phrased for the caller (the model may speak them as they are), never with other customers' data.
NOT_IDENTIFIED = ("I can't identify you from this phone line, so I can't look at your cards. "
                  "Please call us from the phone number registered with the bank.")
NO_CUSTOMER = "I couldn't find a customer with the phone number of this call. Please call from your registered number."
NOT_VERIFIED = ("Before I can do that I need to make sure it's you. I can text a six-digit code to your "
                "registered phone. Shall I send it?")
NEEDS_SECOND_FACTOR = ("For a change like this I need a second proof that it's you: a six-digit code from your "
                       "authenticator app, or an approval in our mobile app. Which would you like to use?")
VERIFICATION_LOCKED = ("For your security, verification is locked on this phone for a while after too many wrong "
                       "attempts. I can put you through to a person, or you can visit a branch.")
SECURITY_UNAVAILABLE = ("I can't check your security details right now, so I can't do that at the moment. "
                        "Please try again a little later, or I can put you through to a person.")
# Said when this phone's card actions are locked after too many wrong last-four digits (bank.services).
CARD_ACTIONS_LOCKED = "For your security I can't do that by phone right now; please use the app or a branch."
REFUSALS = {Reason.NOT_IDENTIFIED: NOT_IDENTIFIED, Reason.CUSTOMER_NOT_FOUND: NO_CUSTOMER,
            Reason.NOT_VERIFIED: NOT_VERIFIED, Reason.NEEDS_SECOND_FACTOR: NEEDS_SECOND_FACTOR,
            Reason.LOCKED_OUT: VERIFICATION_LOCKED,
            Reason.SECURITY_UNAVAILABLE: SECURITY_UNAVAILABLE}
