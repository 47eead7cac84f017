"""POST /api/vapi/events: Vapi's server messages, at the HTTP edge (calls/webhooks.py says how they
are authenticated; the calls app holds what each message means).

Two messages wait for an answer in Vapi's shape: `assistant-request` (calls/assistant.py: which
assistant, which first words, or a person straight away) and `transfer-destination-request`
(calls/transfers.py: where the call goes and what the person hears). Every other message is a
notification: what it says is kept on the call (calls/lifecycle.py) and answered 200 at once.
A refused or malformed request is a 4xx OpenAI-style error and changes nothing. After a message is
authenticated and parsed, `calls.signals.vapi_event` goes to its receivers (outbound calls listen).
The view lives in the api app (the edge, with the OpenAI error format) so that calls never imports api.
"""
import logging
from concurrent.futures import ThreadPoolExecutor

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import close_old_connections
from django.http import JsonResponse

from api.protocol import error_body
from calls import assistant, lifecycle, transfers, webhooks
from calls.signals import vapi_event

logger = logging.getLogger("fintalk.calls")
# The messages Vapi waits on, and who answers each (a dict in Vapi's own response shape).
ANSWERED = {"assistant-request": assistant.assistant_answer, "transfer-destination-request": transfers.transfer_answer}


def _error(refusal: webhooks.Refusal) -> JsonResponse:
    headers = {"WWW-Authenticate": 'Bearer realm="fintalk-vapi"'} if refusal.status == 401 else None
    return JsonResponse(error_body(refusal.message, refusal.error_type, refusal.param, refusal.code),
                        status=refusal.status, headers=headers)


def _notify(event_type: str, message: dict) -> None:
    call = message.get("call") if isinstance(message.get("call"), dict) else {}
    call_id = call.get("id") if isinstance(call.get("id"), str) else None
    for receiver, result in vapi_event.send_robust(sender="vapi", event_type=event_type, message=message,
                                                   call_id=call_id):
        if isinstance(result, Exception):
            logger.error("a vapi_event receiver failed", exc_info=result,
                         extra={"receiver": getattr(receiver, "__qualname__", repr(receiver)), "event_type": event_type})


def _record_answer(event_type: str, message: dict, body: dict, records: bool) -> None:
    close_old_connections()  # the recording thread's own connection: renewed when it broke or aged out
    try:
        if records:
            lifecycle.record_answer(event_type, message, body)
    except Exception:  # the answer is given; a lost lifecycle line must not end in an unlogged task error
        logger.exception("an answered vapi message was not recorded", extra={"event_type": event_type})
    _notify(event_type, message)


def _handle(event_type: str, message: dict) -> dict:
    """A notification's acknowledgement, once what it says is kept on the call."""
    handled = settings.FINTALK_CALL_RECORDS and lifecycle.record(event_type, message)
    _notify(event_type, message)
    return {"received": True, "type": event_type, "handled": bool(handled)}


# Answers are recorded by one thread of their own, after the response: the answering thread (Django's
# sync_to_async thread) never waits for a database write.
_recorder = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vapi-answers")


async def _answer(event_type: str, message: dict, base_url: str) -> dict:
    """Vapi's answer, given before it is recorded: Vapi waits (7.5 s at most) and the caller hears
    nothing until it comes, so the two reads are on the path and the writes are not."""
    body = await sync_to_async(ANSWERED[event_type])(message, base_url=base_url)
    _recorder.submit(_record_answer, event_type, message, body, settings.FINTALK_CALL_RECORDS)
    return body


def base_url(request) -> str:
    """Where Vapi reaches this server (for the assistant's model and server URLs)."""
    return settings.FINTALK_PUBLIC_URL or request.build_absolute_uri("/").rstrip("/")


async def vapi_events(request):
    if request.method != "POST":
        return _error(webhooks.Refusal(405, f"Method \"{request.method}\" not allowed.", "method_not_allowed",
                                       "invalid_request_error"))
    try:
        body = request.body
    except RequestDataTooBig:
        return _error(webhooks.Refusal(413, f"Request body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes.",
                                       "request_too_large", "invalid_request_error"))
    # In a thread: a signed message's replay check asks the shared cache (Redis is I/O).
    refusal = await sync_to_async(webhooks.authenticate)(request.headers, body, settings.FINTALK_VAPI_WEBHOOK_SECRET,
                                                         settings.FINTALK_AUTH == "disabled")
    if refusal is not None:
        return _error(refusal)
    parsed = webhooks.parse(body)
    if isinstance(parsed, webhooks.Refusal):
        return _error(parsed)
    event_type, message = parsed
    if event_type in ANSWERED:
        return JsonResponse(await _answer(event_type, message, base_url(request)))
    return JsonResponse(await sync_to_async(_handle)(event_type, message))
