"""Translates provider (botocore) failures into Fintalk's exception tree, once.

An error may arrive wrapped (a tool's, a task's), so the cause chain is searched. Provider
messages are kept short and never include credentials or request bodies.
"""
from core.exceptions import FintalkError, UpstreamError, UpstreamRejected, UpstreamThrottled, UpstreamUnavailable

_THROTTLED = {"throttlingexception", "toomanyrequestsexception", "servicequotaexceededexception"}
_UNAVAILABLE = {
    "serviceunavailableexception", "modelnotreadyexception", "accessdeniedexception",
    "unrecognizedclientexception", "expiredtokenexception", "invalidsignatureexception",
    "resourcenotfoundexception", "modeltimeoutexception",
}
_REJECTED = {"validationexception"}


def _causes(exc: BaseException):
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def to_fintalk_error(exc: BaseException) -> FintalkError:
    from botocore.exceptions import BotoCoreError, ClientError

    for cause in _causes(exc):
        if isinstance(cause, FintalkError):
            return cause
        if isinstance(cause, ClientError):
            error = cause.response.get("Error", {})
            code = str(error.get("Code", "")).lower()
            if code in _THROTTLED:
                return UpstreamThrottled()
            if code in _UNAVAILABLE:
                return UpstreamUnavailable(f"The language model is unavailable ({error.get('Code')}).")
            if code in _REJECTED:
                return UpstreamRejected(f"The language model rejected the request: {error.get('Message', '')}"[:500])
            return UpstreamError(f"The language model failed ({error.get('Code') or 'unknown error'}).")
        if isinstance(cause, BotoCoreError):
            return UpstreamUnavailable(f"The language model is unreachable or not configured ({type(cause).__name__}).")
    return FintalkError()
