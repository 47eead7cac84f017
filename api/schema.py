"""The OpenAPI 3.1 document (drf-spectacular): /api/schema/, and its Swagger UI at /api/docs/.

Request bodies come from the serializers. The objects Fintalk answers with are built as plain
dicts in `api.protocol` (cheap per token), so their JSON schemas are written here, next to the
decorator each view carries, and added to the document's components. A streamed answer is
documented as `text/event-stream`; every error as the OpenAI error object.
"""
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema

from api import serializers


class BearerKeyScheme(OpenApiAuthenticationExtension):
    target_class = "api.authentication.BearerKeyAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer",
                "description": "An API key: one of FINTALK_API_KEYS, or one made with `manage.py create_api_key`."}


def ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def nullable(schema: dict) -> dict:
    return {"anyOf": [schema, {"type": "null"}]}


STRING, INTEGER, NUMBER = {"type": "string"}, {"type": "integer"}, {"type": "number"}
NULL = {"type": "null"}
FINISH_REASON = {"type": "string", "enum": ["stop", "length", "tool_calls", "content_filter"]}


def obj(properties: dict, required=None) -> dict:
    return {"type": "object", "properties": properties, "required": list(properties if required is None else required)}


TOOL_CALL = obj({"id": STRING, "type": {"const": "function"},
                 "function": obj({"name": STRING, "arguments": STRING})})
TOOL_CALL_DELTA = obj({"index": INTEGER, "id": STRING, "type": {"const": "function"},
                       "function": obj({"name": STRING, "arguments": STRING}, required=[])}, required=["index"])

COMPONENTS = {
    "Error": obj({"error": obj({
        "message": STRING, "type": STRING, "param": nullable(STRING), "code": nullable(STRING)})}),
    "Usage": obj({"prompt_tokens": INTEGER, "completion_tokens": INTEGER, "total_tokens": INTEGER}),
    "ChatCompletion": obj({
        "id": STRING, "object": {"const": "chat.completion"}, "created": INTEGER, "model": STRING,
        "system_fingerprint": nullable(STRING),
        "choices": {"type": "array", "items": obj({
            "index": INTEGER,
            "message": obj({"role": {"const": "assistant"}, "content": nullable(STRING), "refusal": NULL,
                            "tool_calls": {"type": "array", "items": TOOL_CALL}},
                           required=["role", "content", "refusal"]),
            "logprobs": NULL, "finish_reason": FINISH_REASON})},
        "usage": ref("Usage")}),
    "ChatCompletionChunk": {**obj({
        "id": STRING, "object": {"const": "chat.completion.chunk"}, "created": INTEGER, "model": STRING,
        "system_fingerprint": nullable(STRING),
        "choices": {"type": "array", "items": obj({
            "index": INTEGER,
            "delta": obj({"role": {"const": "assistant"}, "content": nullable(STRING),
                          "tool_calls": {"type": "array", "items": TOOL_CALL_DELTA}}, required=[]),
            "logprobs": NULL, "finish_reason": nullable(FINISH_REASON)})},
        "usage": nullable(ref("Usage"))}),
        "description": "One `data:` event of a streamed chat completion; the stream ends with `data: [DONE]`."},
    "TextCompletion": obj({
        "id": STRING, "object": {"const": "text_completion"}, "created": INTEGER, "model": STRING,
        "system_fingerprint": nullable(STRING),
        "choices": {"type": "array", "items": obj({
            "index": INTEGER, "text": STRING, "logprobs": NULL, "finish_reason": nullable(FINISH_REASON)})},
        "usage": ref("Usage")}, required=["id", "object", "created", "model", "choices"]),
    "Response": obj({
        "id": STRING, "object": {"const": "response"}, "created_at": INTEGER,
        "status": {"type": "string", "enum": ["completed", "failed", "in_progress", "incomplete"]},
        "model": STRING,
        "output": {"type": "array", "items": obj({
            "type": {"const": "message"}, "id": STRING, "status": STRING, "role": {"const": "assistant"},
            "content": {"type": "array", "items": obj({
                "type": {"const": "output_text"}, "text": STRING, "annotations": {"type": "array"},
                "logprobs": {"type": "array"}})}})},
        "error": nullable(obj({"code": STRING, "message": STRING})), "incomplete_details": NULL,
        "instructions": nullable(STRING), "metadata": {"type": "object"}, "temperature": nullable(NUMBER),
        "top_p": nullable(NUMBER), "max_output_tokens": nullable(INTEGER), "previous_response_id": NULL,
        "parallel_tool_calls": {"type": "boolean"}, "tool_choice": STRING, "tools": {"type": "array"},
        "store": {"type": "boolean"}, "text": {"type": "object"}, "truncation": STRING, "user": nullable(STRING),
        "usage": nullable(obj({
            "input_tokens": INTEGER, "output_tokens": INTEGER, "total_tokens": INTEGER,
            "input_tokens_details": obj({"cached_tokens": INTEGER, "cache_write_tokens": INTEGER}),
            "output_tokens_details": obj({"reasoning_tokens": INTEGER})}))}),
    "ResponseStreamEvent": {
        **obj({"type": {"type": "string", "pattern": "^response\\."}, "sequence_number": INTEGER}),
        "description": "A Responses API stream event (`response.created`, ... `response.completed`)."},
    "EmbeddingList": obj({
        "object": {"const": "list"}, "model": STRING,
        "data": {"type": "array", "items": obj({
            "object": {"const": "embedding"}, "index": INTEGER,
            "embedding": {"anyOf": [{"type": "array", "items": NUMBER},
                                    {"type": "string", "description": "base64 of little-endian float32s"}]}})},
        "usage": obj({"prompt_tokens": INTEGER, "total_tokens": INTEGER})}),
    "Model": obj({"id": STRING, "object": {"const": "model"}, "created": INTEGER, "owned_by": STRING}),
    "ModelList": obj({"object": {"const": "list"}, "data": {"type": "array", "items": ref("Model")}}),
    "AgentQueryResponse": obj({
        "response": STRING, "model": STRING, "finish_reason": FINISH_REASON,
        "tool_calls": {"type": "array", "items": obj({"tool": STRING, "outcome": STRING})},
        "usage": ref("Usage")}),
}

def sse(*payloads: str, done: bool = True) -> dict:
    """One server-sent event of a stream: its `data` is one of `payloads` as JSON (or `[DONE]`)."""
    data = {"type": "string", "contentMediaType": "application/json",
            "contentSchema": {"anyOf": [ref(name) for name in payloads]}}
    return {"type": "object", "required": ["data"],
            "description": "A server-sent event (`data:` line" + ("; the last is `data: [DONE]`)" if done else ")"),
            "properties": {"data": {"anyOf": [{"const": "[DONE]"}, data]} if done else data,
                           "event": STRING, "id": STRING}}
_RETRY_AFTER = {"Retry-After": {"schema": INTEGER, "description": "Seconds to wait before retrying."}}


def _errors(*statuses: int) -> dict:
    return {status: OpenApiResponse(ref("Error"), description=_ERROR_DESCRIPTIONS[status]) for status in statuses}


_ERROR_DESCRIPTIONS = {
    400: "Invalid request (`param` names the field).",
    401: "Missing or wrong API key.",
    404: "Unknown model (a lookup; or with FINTALK_UNKNOWN_MODEL=reject).",
    413: "The body is larger than FINTALK_MAX_BODY_BYTES.",
    415: "The body is not JSON.",
    429: "Over the per-key rate limit, or the model is throttled; see Retry-After.",
    500: "Server error.",
    503: "The model is unreachable or not configured.",
    504: "No first token in time.",
}
_TURN_ERRORS = (400, 401, 404, 413, 415, 429, 500, 503, 504)


def _json_or_stream(component: str, event: dict, description: str) -> dict:
    return {(200, "application/json"): OpenApiResponse(ref(component), description=description),
            (200, "text/event-stream"): OpenApiResponse(event, description=description)}


def _with_error_media(responses: dict) -> dict:
    """Errors are JSON; with a (status, media type) response present, spectacular wants every key that way."""
    return {**responses, **{(status, "application/json"): value for status, value in _errors(*_TURN_ERRORS).items()}}


def _example(name: str, body: dict) -> list[OpenApiExample]:
    return [OpenApiExample(name, value=body, request_only=True)]


_CHAT = dict(
    tags=["chat"], request=serializers.ChatCompletionRequestSerializer,
    examples=_example("A question", {"model": "amazon.nova-lite-v1:0", "messages": [
        {"role": "user", "content": "What loans do you offer?"}]}),
    description=("`model`: any name; one this server does not offer is answered by the default chat model "
                 "and the response names the model used. `stream` absent: streamed unless the Accept header "
                 "names application/json and not text/event-stream. Stream events are `ChatCompletionChunk`s."),
    responses=_with_error_media(_json_or_stream(
        "ChatCompletion", sse("ChatCompletionChunk", "Error"), "A chat completion, or its chunks as SSE.")),
)
chat_completions = extend_schema(operation_id="createChatCompletion",
                                 summary="A turn of the bank's agent as an OpenAI chat completion", **_CHAT)
deprecated_chat_completions = extend_schema(operation_id="createChatCompletionDeprecated", deprecated=True,
                                            summary="Deprecated alias of POST /api/chat/completions", **_CHAT)
responses_api = extend_schema(
    operation_id="createResponse", tags=["responses"], request=serializers.ResponsesRequestSerializer,
    examples=_example("A question", {"input": "What loans do you offer?"}),
    summary="The Responses API over the same agent turn (stateless)",
    description="`stream` absent: not streamed, unless the Accept header accepts only text/event-stream.",
    responses=_with_error_media(_json_or_stream(
        "Response", sse("ResponseStreamEvent", done=False), "A response object, or its events as SSE.")),
)
completions = extend_schema(
    operation_id="createCompletion", tags=["completions"], request=serializers.CompletionsRequestSerializer,
    examples=_example("Two prompts", {"prompt": ["What loans do you offer?", "Which cards do I have?"]}),
    summary="Legacy completions: each prompt is one agent turn",
    responses=_with_error_media(_json_or_stream(
        "TextCompletion", sse("TextCompletion", "Error"), "A text completion, or its chunks as SSE.")),
)
embeddings = extend_schema(
    operation_id="createEmbedding", tags=["embeddings"], request=serializers.EmbeddingsRequestSerializer,
    examples=_example("One text", {"input": "a car loan", "dimensions": 256}),
    summary="Text embeddings (Titan Text Embeddings V2; any other model name gets it)",
    responses={200: OpenApiResponse(ref("EmbeddingList")), **_errors(400, 401, 404, 413, 415, 429, 500, 503)},
)
list_models = extend_schema(
    operation_id="listModels", tags=["models"], summary="The models this server offers",
    responses={200: OpenApiResponse(ref("ModelList")), **_errors(401, 429)},
)
retrieve_model = extend_schema(
    operation_id="retrieveModel", tags=["models"], summary="One model, or 404",
    parameters=[OpenApiParameter("model_id", str, OpenApiParameter.PATH)],
    responses={200: OpenApiResponse(ref("Model")), **_errors(401, 404, 429)},
)
agent_query = extend_schema(
    operation_id="queryAgent", tags=["native"], request=serializers.AgentQuerySerializer,
    examples=_example("A caller", {"query": "Which cards do I have?", "phone_number": "+15550100001"}),
    summary="The native endpoint: one question, one answer",
    responses={200: OpenApiResponse(ref("AgentQueryResponse")), **_errors(*_TURN_ERRORS)},
)

_UNDOCUMENTED = ("/api/schema", "/api/docs")


def only_api_paths(endpoints):
    """Document each route once, under /api/ (the /v1/ copies are the same views), without the docs' own."""
    kept = []
    for path, path_regex, method, callback in endpoints:
        path = path.replace("/?", "").rstrip("/") if path != "/" else path  # `/?`: the optional trailing slash
        if path.startswith("/api/") and not path.startswith(_UNDOCUMENTED):
            kept.append((path, path_regex, method, callback))
    return kept


def add_components(result, generator, request, public):
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    assert not set(schemas) & set(COMPONENTS), f"component names clash: {set(schemas) & set(COMPONENTS)}"
    schemas.update(COMPONENTS)
    for operation in (op for item in result.get("paths", {}).values() for op in item.values()):
        too_many = operation.get("responses", {}).get("429")
        if too_many is not None:
            too_many["headers"] = _RETRY_AFTER
    return result
