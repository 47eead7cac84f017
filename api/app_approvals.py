"""POST /api/app/approvals/callback: the bank's app backend answers an approval it was asked to show
(bank.push says how the request is signed and what is refused). Thin: the signature, the replay check
and the decision are the bank's; here the HTTP edge, with OpenAI-style errors for every refusal."""
from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import JsonResponse

from api.protocol import error_body
from bank import push

ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 404: "invalid_request_error",
               405: "invalid_request_error", 409: "invalid_request_error", 413: "invalid_request_error",
               503: "service_unavailable_error"}


def _error(status: int, message: str, code: str, param: str | None = None) -> JsonResponse:
    headers = {"WWW-Authenticate": 'Signature realm="fintalk-app"'} if status == 401 else None
    return JsonResponse(error_body(message, ERROR_TYPES[status], param, code), status=status, headers=headers)


async def approval_callback(request):
    if request.method != "POST":
        return _error(405, f"Method \"{request.method}\" not allowed.", "method_not_allowed")
    try:
        body = request.body
    except RequestDataTooBig:
        return _error(413, f"Request body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes.",
                      "request_too_large")
    try:
        status = await sync_to_async(push.callback)(body, request.headers.get("X-Fintalk-Timestamp", ""),
                                                    request.headers.get("X-Fintalk-Signature", ""))
    except push.CallbackRefused as refused:
        return _error(refused.status, refused.message, refused.code, refused.param)
    return JsonResponse({"received": True, "status": status})
