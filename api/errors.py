"""The edge where every failure becomes an OpenAI error body; nothing else renders errors.

DRF's exceptions (validation, parse, auth, 405), Fintalk's own tree (`core.exceptions`) and
anything unexpected all leave through `exception_handler`, so a client never sees HTML or a
DRF-shaped `{"detail": ...}`. Django-level 404/500 handlers reuse the same body.
"""
import logging
import math

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import JsonResponse
from rest_framework import exceptions as drf
from rest_framework.response import Response

from api.protocol import error_body
from core.exceptions import FintalkError

logger = logging.getLogger("fintalk.api")


def _first_error(detail, path: str = "") -> tuple[str, str]:
    """Walk DRF's nested error detail to its first message and the OpenAI-style param path.

    `{"messages": {2: {"content": {0: {"type": [...]}}}}}` -> ("messages[2].content[0].type", msg)
    """
    if isinstance(detail, dict):
        items = detail.items()
    elif isinstance(detail, list) and any(isinstance(item, (dict, list)) for item in detail):
        items = enumerate(detail)  # a ListSerializer's errors: one entry per item, {} when valid
    elif isinstance(detail, list):
        return path, str(detail[0]) if detail else ""
    else:
        return path, str(detail)
    for key, value in items:
        if not value:
            continue
        if key == "non_field_errors":
            return _first_error(value, path)
        if isinstance(key, int) or str(key).isdigit():
            part = f"[{key}]"
        else:
            part = f".{key}" if path else str(key)
        return _first_error(value, path + part)
    return path, ""


# The request field OpenAI's `param` names for what an agent error is about (`FintalkError.subject`).
PARAM_OF_SUBJECT = {"model": "model", "history": "messages"}


def wire_param(error: FintalkError) -> str | None:
    """The `param` of a Fintalk error: the field the API layer named, else the field of its subject."""
    return error.param or PARAM_OF_SUBJECT.get(error.subject)


def fintalk_error_body(error: FintalkError) -> dict:
    """A Fintalk error as OpenAI's error object (for an HTTP response or an SSE error event)."""
    return error_body(error.message, error.error_type, wire_param(error), error.code)


def _error_response(status: int, message: str, error_type: str, param=None, code=None, headers=None) -> Response:
    return Response(error_body(message, error_type, param, code), status=status, headers=headers)


def exception_handler(exc, context):
    if isinstance(exc, FintalkError):
        return Response(fintalk_error_body(exc), status=exc.status_code)
    if isinstance(exc, RequestDataTooBig):  # Django enforces DATA_UPLOAD_MAX_MEMORY_SIZE when DRF reads the body
        return _error_response(413, f"Request body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes.",
                               "invalid_request_error", None, "request_too_large")
    if isinstance(exc, drf.ValidationError):
        param, message = _first_error(exc.detail)
        text = f"{param}: {message}" if param else message
        return _error_response(400, text, "invalid_request_error", param or None, "invalid_value")
    if isinstance(exc, (drf.NotAuthenticated, drf.AuthenticationFailed)):
        return _error_response(
            401, str(exc.detail), "authentication_error", None, "invalid_api_key",
            headers={"WWW-Authenticate": 'Bearer realm="fintalk"'},
        )
    if isinstance(exc, drf.ParseError):
        return _error_response(400, str(exc.detail), "invalid_request_error", None, "invalid_json")
    if isinstance(exc, drf.UnsupportedMediaType):
        return _error_response(415, str(exc.detail), "invalid_request_error", None, "unsupported_media_type")
    if isinstance(exc, drf.MethodNotAllowed):
        return _error_response(405, str(exc.detail), "invalid_request_error", None, "method_not_allowed")
    if isinstance(exc, drf.NotFound):
        return _error_response(404, str(exc.detail), "invalid_request_error", None, "not_found")
    if isinstance(exc, drf.Throttled):
        headers = {"Retry-After": str(max(1, math.ceil(exc.wait or 1)))}
        return _error_response(429, str(exc.detail), "rate_limit_exceeded", None, "rate_limit_exceeded", headers)
    if isinstance(exc, drf.APIException):
        code = exc.get_codes()
        return _error_response(exc.status_code, str(exc.detail), "invalid_request_error", None,
                               code if isinstance(code, str) else None)
    logger.exception("unhandled error in %s", type(context.get("view")).__name__)
    return _error_response(500, "The server had an error while processing your request.", "server_error",
                           None, "server_error")


def not_found(request, exception=None, **kwargs):
    return JsonResponse(
        error_body(f"Unknown route: {request.method} {request.path}", "invalid_request_error", None, "not_found"),
        status=404,
    )


def server_error(request, *args, **kwargs):
    return JsonResponse(
        error_body("The server had an error while processing your request.", "server_error", None, "server_error"),
        status=500,
    )
