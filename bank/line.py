"""How far the bank trusts the phone line a call comes in on: a pluggable check, chosen like the SMS
senders by FINTALK_LINE_CHECK.

Caller ID can be spoofed and a phone number can be moved to an attacker's SIM. So:

- **Attestation.** US carriers sign caller ID (STIR/SHAKEN); the voice platform may pass the
  terminating side's verdict, `verstat` (`TN-Validation-Passed-A`, `-B`, `-C`, `TN-Validation-Failed`,
  `No-TN-Validation`; Telnyx writes plain `TN-Validation-Passed` for A). Only full attestation (A)
  keeps level 0; partial, gateway, failed or none make the caller unknown until verified
  (bank.verification.require). Without a verstat on the call (a platform that passes none) the line
  is judged as before: caller ID.
- **SIM swap.** A number moved to a new SIM recently (FINTALK_SIM_SWAP_HOURS) gets no SMS code: the
  caller is offered the security questions, an authenticator code or a person. A lookup that fails
  counts as a swap (fail closed: the other ways in remain).

Backends: `none` (the default: caller ID is enough, no lookup), `standin` (the verstat above, and a
SIM-swap lookup over HTTP at FINTALK_LINE_CHECK_URL in the CAMARA SIM Swap API's format,
`POST /check {"phoneNumber", "maxAge"}` -> `{"swapped": bool}`; tests/line_standin.py plays the
carrier) or the dotted path of a class with `attestation(verstat) -> str | None` and
`sim_swapped(phone) -> bool`. What was found is recorded on the call once: an audit event
`line_check` with the attestation or the swap (never the number in clear).
"""
import logging
import re
from functools import lru_cache

from django.conf import settings
from django.core.cache import caches
from django.utils.module_loading import import_string

from core.masking import mask_phone

logger = logging.getLogger("fintalk.bank")

FULL = "A"


def attestation_of(verstat: str | None) -> str | None:
    """"A", "B", "C", "failed", "none" from a verstat value (or a P-Asserted-Identity header holding
    `verstat=`); None when there is no verstat at all."""
    if not verstat or not isinstance(verstat, str):
        return None
    if match := re.search(r"verstat=([\w-]+)", verstat):
        verstat = match.group(1)
    value = verstat.strip().lower()
    if value.startswith("tn-validation-passed"):
        level = value.rpartition("-")[2]
        return level.upper() if level in ("a", "b", "c") else FULL
    if value.startswith("tn-validation-failed"):
        return "failed"
    return "none"


class NoCheck:
    """Caller ID decides level 0, as before the checks existed; no lookup."""

    def attestation(self, verstat: str | None) -> str | None:
        return None

    def sim_swapped(self, phone: str) -> bool:
        return False


class StandInCheck:
    """The platform's verstat, and a CAMARA-style SIM-swap lookup over HTTP."""

    def __init__(self):
        if not settings.FINTALK_LINE_CHECK_URL:
            raise ValueError("FINTALK_LINE_CHECK=standin needs FINTALK_LINE_CHECK_URL.")
        self.url = settings.FINTALK_LINE_CHECK_URL

    def attestation(self, verstat: str | None) -> str | None:
        return attestation_of(verstat)

    def sim_swapped(self, phone: str) -> bool:
        import httpx

        response = httpx.post(self.url + "/check", json={"phoneNumber": phone, "maxAge": settings.FINTALK_SIM_SWAP_HOURS},
                              timeout=3)
        response.raise_for_status()
        swapped = response.json().get("swapped")
        if not isinstance(swapped, bool):
            raise ValueError("the SIM-swap lookup did not say swapped true or false")
        return swapped


BACKENDS = {"none": NoCheck, "standin": StandInCheck}


@lru_cache(maxsize=1)
def backend():
    name = settings.FINTALK_LINE_CHECK
    return (BACKENDS.get(name) or import_string(name))()


def _record(session, outcome: str) -> None:
    """One `line_check` audit event per call and finding (the first worker to see it writes it)."""
    try:
        first = caches["default"].add(f"fintalk:line:{session.key}:{outcome}", True, settings.FINTALK_VERIFICATION_SECONDS)
    except Exception:
        first = True  # the cache is down: better a repeated record than none
    if first:
        session.audit("line_check", outcome)
        logger.info("line check", extra={"phone": mask_phone(session.phone), "outcome": outcome})


def attested(verstat: str | None) -> bool:
    """Whether this verstat leaves caller ID trusted (no verstat, or the check ignores it: True). Pure:
    for the agent's instructions; the bank's own check (`trusted`) also records what it found."""
    found = backend().attestation(verstat)
    return found is None or found == FULL


def trusted(session) -> bool:
    """Whether caller ID alone may stand for the customer (level 0) on this call."""
    found = backend().attestation(getattr(session, "verstat", None))
    if found is None:
        return True
    _record(session, f"attestation:{found}")
    return found == FULL


def sim_swapped(session) -> bool:
    """Whether the registered phone's SIM changed recently (then no SMS code is sent)."""
    try:
        swapped = backend().sim_swapped(session.phone)
    except Exception as exc:  # the lookup failed: as if swapped, the other ways in remain
        logger.warning("SIM-swap lookup failed", extra={"phone": mask_phone(session.phone), "error": type(exc).__name__})
        _record(session, "sim_swap:lookup_failed")
        return True
    if swapped:
        _record(session, "sim_swap:recent")
    return swapped
