"""One exception tree for Fintalk; `api.errors` translates it into OpenAI errors once, at the edge.

Each class carries what the wire needs (HTTP status, OpenAI error `type` and `code`) in class
attributes, DRF-style, so raising code only says what went wrong.

Which request field was wrong (OpenAI's `param`) is the API layer's to say: `api/` passes
`param=` when it rejects a field it read. The agent never does; its errors name their `subject`
in the agent's own terms (the model asked for, the conversation's history), and `api.errors`
says which request field that is on the wire.
"""


class FintalkError(Exception):
    status_code = 500
    error_type = "server_error"
    code: str | None = "server_error"
    default_message = "The server had an error while processing your request."
    subject: str | None = None  # what the agent's error is about ("model", "history"); not a wire field

    def __init__(self, message: str | None = None, *, param: str | None = None):
        self.message = message or self.default_message
        self.param = param  # the request field at fault, given only by the API layer
        super().__init__(self.message)


class InvalidRequest(FintalkError):
    status_code = 400
    error_type = "invalid_request_error"
    code = None
    default_message = "The request is not valid."


class ContextLengthExceeded(InvalidRequest):
    """The agent cannot fit the latest message into what it sends the model."""

    subject = "history"
    code = "context_length_exceeded"
    default_message = "The latest message is longer than this server sends to the model."


class ModelNotFound(FintalkError):
    """The model asked for is not offered (as that kind, or at all with FINTALK_UNKNOWN_MODEL=reject)."""

    subject = "model"
    status_code = 404
    error_type = "invalid_request_error"
    code = "model_not_found"
    default_message = "The model does not exist."


class UpstreamError(FintalkError):
    """The language model provider failed in a way the caller cannot fix."""


class UpstreamThrottled(UpstreamError):
    status_code = 429
    error_type = "rate_limit_exceeded"
    code = "rate_limit_exceeded"
    default_message = "The language model is busy (throttled). Retry shortly."


class UpstreamUnavailable(UpstreamError):
    status_code = 503
    error_type = "service_unavailable_error"
    code = "service_unavailable"
    default_message = "The language model is unreachable or not configured."


class UpstreamRejected(UpstreamError):
    """The provider refused the request as invalid (e.g. context too long)."""

    status_code = 400
    error_type = "invalid_request_error"
    code = "upstream_validation_error"
    default_message = "The language model rejected the request."


class UpstreamTimeout(UpstreamError):
    """No first token within FINTALK_FIRST_TOKEN_TIMEOUT (Vapi hangs up at 20 s)."""

    status_code = 504
    error_type = "server_error"
    code = "upstream_timeout"
    default_message = "The language model did not answer in time."


class StructuredOutputFailed(UpstreamError):
    """The model's answer never matched the strict response_format schema."""

    code = "structured_output_failed"
    default_message = "The model did not produce JSON matching the requested schema."
