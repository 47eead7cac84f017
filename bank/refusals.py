"""Why the bank refuses a caller's request: one exception, raised by the bank's own checks
(bank.verification, bank.lockouts) and said aloud by the agent's tools (agent.tools.base)."""
import enum


class Reason(str, enum.Enum):
    NOT_IDENTIFIED = "not_identified"  # no phone on the call
    CUSTOMER_NOT_FOUND = "customer_not_found"  # the phone is not registered
    NOT_VERIFIED = "not_verified"  # the level needed is not reached yet
    LOCKED_OUT = "locked_out"  # too many wrong codes / answers for this phone
    SECURITY_UNAVAILABLE = "security_unavailable"  # the shared cache is down: fail closed


class Denied(Exception):
    def __init__(self, reason: Reason):
        super().__init__(reason.value)
        self.reason = reason
