"""POST /api/vapi/events: Vapi's server messages (calls/webhooks.py says how they are authenticated).

end-of-call-report and status-update complete the call's record; every other type is accepted and
ignored (200). A refused or malformed request is a 4xx OpenAI-style error and changes nothing.
After a message is authenticated and parsed, `calls.signals.vapi_event` goes to its receivers.
"""
import logging

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import JsonResponse

from api.protocol import error_body
from calls import webhooks
from calls.services import apply_vapi_event
from calls.signals import vapi_event

logger = logging.getLogger("fintalk.calls")
HANDLED = ("status-update", "end-of-call-report")


def _error(refusal: webhooks.Refusal) -> JsonResponse:
    headers = {"WWW-Authenticate": 'Bearer realm="fintalk-vapi"'} if refusal.status == 401 else None
    return JsonResponse(error_body(refusal.message, refusal.error_type, refusal.param, refusal.code),
                        status=refusal.status, headers=headers)


def _handle(event_type: str, message: dict) -> bool:
    call = message.get("call") if isinstance(message.get("call"), dict) else {}
    call_id = call.get("id") if isinstance(call.get("id"), str) else None
    handled = False
    if event_type in HANDLED and settings.FINTALK_CALL_RECORDS:
        handled = apply_vapi_event(event_type, message) is not None
    for receiver, result in vapi_event.send_robust(sender="vapi", event_type=event_type, message=message,
                                                   call_id=call_id):
        if isinstance(result, Exception):
            logger.error("a vapi_event receiver failed", exc_info=result,
                         extra={"receiver": getattr(receiver, "__qualname__", repr(receiver)), "event_type": event_type})
    return handled


async def vapi_events(request):
    if request.method != "POST":
        return _error(webhooks.Refusal(405, f"Method \"{request.method}\" not allowed.", "method_not_allowed",
                                       "invalid_request_error"))
    try:
        body = request.body
    except RequestDataTooBig:
        return _error(webhooks.Refusal(413, f"Request body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes.",
                                       "request_too_large", "invalid_request_error"))
    refusal = webhooks.authenticate(request.headers, body, settings.FINTALK_VAPI_WEBHOOK_SECRET,
                                    settings.FINTALK_AUTH == "disabled")
    if refusal is not None:
        return _error(refusal)
    parsed = webhooks.parse(body)
    if isinstance(parsed, webhooks.Refusal):
        return _error(parsed)
    event_type, message = parsed
    handled = await sync_to_async(_handle)(event_type, message)
    return JsonResponse({"received": True, "type": event_type, "handled": handled})
