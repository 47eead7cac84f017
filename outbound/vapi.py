"""Vapi's REST API, as far as placing a call: `POST {FINTALK_VAPI_API_URL}/call`.

httpx with explicit timeouts. Connection failures are retried by the transport (nothing reached
Vapi, so nothing can be placed twice); 429 and the gateway errors 502/503/504 (the request was not
processed) are retried here, a bounded number of times with a growing pause that honours a short
`Retry-After`. A 500 or a read timeout is not retried: Vapi may have placed the call, and ringing a
customer twice is worse than trying again at the request's next attempt.

A machine that answers hears `voicemail_message()`: the bank's name and how to call back, nothing
about the customer or why the bank called (a voicemail may be played back by anyone in the house).
Vapi detects the machine (`voicemailDetection`) and reports the call ended with `voicemail`.

The request's id travels in every place the custom-LLM request may show it (see
shared/reference/vapi-custom-llm.md): `customer.externalId`, the assistant overrides' `metadata`
and `variableValues`. The phone number is never logged unmasked.
"""
import logging
import time
from dataclasses import dataclass

import httpx
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from core.masking import mask_phone

logger = logging.getLogger("fintalk.outbound")

RETRY_STATUSES = frozenset({429, 502, 503, 504})
MAX_TRIES = 3  # POSTs per placement, the first included
CONNECT_RETRIES = 2  # the transport's own, for connection errors only
MAX_PAUSE = 8.0  # seconds: a longer Retry-After is left to the request's next attempt


class CallNotPlaced(Exception):
    """Vapi did not accept the call; `reason` is safe to store and log (no number in it). `outage`: Vapi
    was unreachable, slow, busy or failing (not the customer's doing: the attempt is not counted); a
    refusal of the call itself (a 4xx, an answer without a call id) is not one."""

    def __init__(self, reason: str, outage: bool = False):
        self.reason = reason[:200]
        self.outage = outage
        super().__init__(self.reason)


@dataclass(frozen=True)
class PlacedCall:
    call_id: str
    status: str


def _required(name: str) -> str:
    value = getattr(settings, name)
    if not value:
        raise ImproperlyConfigured(f"{name} is missing: outbound calls need it (see the README's 'Outbound calls').")
    return value


def build_client() -> httpx.Client:
    """A client for Vapi's API (a factory, so nothing connects at import)."""
    return httpx.Client(
        base_url=settings.FINTALK_VAPI_API_URL,
        headers={"Authorization": f"Bearer {_required('FINTALK_VAPI_API_KEY')}"},
        timeout=httpx.Timeout(settings.FINTALK_VAPI_TIMEOUT, connect=min(5.0, settings.FINTALK_VAPI_TIMEOUT)),
        transport=httpx.HTTPTransport(retries=CONNECT_RETRIES),
    )


def voicemail_message() -> str:
    """What is left on an answering machine: no name, no account detail, no reason for the call."""
    return settings.FINTALK_VOICEMAIL_MESSAGE or (
        f"Hello, this is {settings.FINTALK_BANK_NAME} with a message for one of our customers. "
        f"Please {settings.FINTALK_HUMAN_CONTACT.rstrip('.')}. Thank you.")


def call_body(*, request_id: int, purpose: str, phone: str, first_name: str) -> dict:
    reference = {"fintalkOutboundRequestId": str(request_id), "purpose": purpose}
    return {
        "assistantId": _required("FINTALK_VAPI_ASSISTANT_ID"),
        "phoneNumberId": _required("FINTALK_VAPI_PHONE_NUMBER_ID"),
        "customer": {"number": phone, "name": first_name, "externalId": str(request_id)},
        "assistantOverrides": {"metadata": reference, "variableValues": reference,
                               "voicemailDetection": {"provider": "vapi"}, "voicemailMessage": voicemail_message()},
    }


def _pause(response: httpx.Response, tries: int) -> float:
    try:
        asked = float(response.headers.get("Retry-After", ""))
    except ValueError:
        asked = 0.0
    return min(max(asked, 0.5 * 2 ** (tries - 1)), MAX_PAUSE)


def place_call(*, request_id: int, purpose: str, phone: str, first_name: str) -> PlacedCall:
    """Ask Vapi to ring `phone`; the call's id, or CallNotPlaced saying why not."""
    body = call_body(request_id=request_id, purpose=purpose, phone=phone, first_name=first_name)
    with build_client() as client:
        for tries in range(1, MAX_TRIES + 1):
            try:
                response = client.post("/call", json=body)
            except httpx.TimeoutException as error:
                raise CallNotPlaced(f"Vapi did not answer in time ({type(error).__name__})", outage=True) from error
            except httpx.TransportError as error:
                raise CallNotPlaced(f"Vapi could not be reached ({type(error).__name__})", outage=True) from error
            if response.status_code in RETRY_STATUSES and tries < MAX_TRIES:
                pause = _pause(response, tries)
                if pause >= MAX_PAUSE and response.headers.get("Retry-After"):
                    break
                logger.warning("vapi busy, retrying", extra={"status": response.status_code, "pause": pause,
                                                              "outbound_request": request_id})
                time.sleep(pause)
                continue
            break
    if response.status_code >= 300:
        raise CallNotPlaced(f"Vapi answered {response.status_code}",
                            outage=response.status_code in RETRY_STATUSES or response.status_code >= 500)
    try:
        call = response.json()
        call_id = str(call["id"])
    except (ValueError, KeyError, TypeError) as error:
        raise CallNotPlaced("Vapi's answer had no call id") from error
    logger.info("outbound call placed", extra={"outbound_request": request_id, "vapi_call_id": call_id,
                                               "phone": mask_phone(phone)})
    return PlacedCall(call_id=call_id[:64], status=str(call.get("status", "")))
