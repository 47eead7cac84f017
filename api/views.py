"""HTTP endpoints. Thin: validate, build the turn, start it, hand it to a responder.

Everything that can fail (auth, validation, model lookup, the upstream's first answer) is
checked before a streaming response is returned: once streaming begins, DRF's exception
handling no longer applies. An absent `stream` is decided by the Accept header
(`api.negotiation`); any model name is answered (`agent.models.resolve_model`).
"""
import logging

from django.http import StreamingHttpResponse
from rest_framework.response import Response

from agent import embeddings
from agent.loop import run_turn
from agent.models import MODEL_CREATED, available_models, resolve_model
from agent.tools import agent_tool_names
from api import caller_signature, protocol
from api import schema as docs
from api.async_view import APIView
from api.conversation import build_native_turn, build_turn, is_voice_call
from api.negotiation import chat_streams_by_default, streams_only_if_asked
from api.serializers import (
    AgentQuerySerializer,
    ChatCompletionRequestSerializer,
    CompletionsRequestSerializer,
    EmbeddingsRequestSerializer,
    ResponsesRequestSerializer,
)
from api.streaming import chat_completion_stream, collect, completions_stream, responses_stream, start_turn, usage_of
from core.exceptions import ContextLengthExceeded, ModelNotFound

logger = logging.getLogger("fintalk.api")
SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
BUSY_REPLY = "We're very busy right now, please try again in a moment."
# A voice caller whose one utterance is longer than FINTALK_MAX_INPUT_TOKENS leaves with this, not a 400
# (Vapi ends the call on an error): the history was trimmed first, so the utterance alone did not fit.
TOO_LONG_REPLY = "Sorry, that was more than I can take in at once. Could you tell me in a sentence or two what you need?"


def _validated(serializer_class, request, **context) -> dict:
    serializer = serializer_class(data=request.data, context=context)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def _body(request) -> dict:
    return request.data if isinstance(request.data, dict) else {}


def _model_name(body: dict) -> str | None:
    return body.get("model") if isinstance(body.get("model"), str) else None


def _requested(request, serializer_class, kind: str = "chat", **context):
    """The raw body, the model that answers it, its validated data; the request record notes model and stream."""
    body = _body(request)
    model = resolve_model(_model_name(body), kind)
    if model.max_output_tokens:
        context["max_output_tokens"] = model.max_output_tokens
    if model.dimensions:
        context["dimensions"] = model.dimensions
    data = _validated(serializer_class, request, **context)
    record = request.fintalk
    record.model, record.stream = model.id, bool(data.get("stream"))
    record.requested(body)
    return body, model, data, record


def _signed_caller(request) -> caller_signature.SignedCaller | None:
    """Another voice stack's caller headers, when signed with this request's key (api/caller_signature.py)."""
    key = request.auth if isinstance(request.auth, str) else None
    signed, verdict = caller_signature.verify(request.headers, key)
    if verdict not in ("absent", "trusted"):
        logger.warning("caller headers not trusted", extra={"caller_signature": verdict})
    return signed


def _run(built: tuple, record):
    """The agent's events for a turn built by api.conversation (the turn, who vouched for its
    phone); the request's log line notes that source."""
    turn, record.phone_source = built
    record.turn_started(turn)
    return run_turn(turn)


def _sse(record, events) -> StreamingHttpResponse:
    """An SSE response whose end finishes the request's record (watched where it is made: the
    middleware would wrap it again, and Django wraps each wrapping in a generator of its own)."""
    return StreamingHttpResponse(record.watch(events), content_type="text/event-stream", headers=SSE_HEADERS)


async def _events(frames: list[bytes]):
    for frame in frames:
        yield frame


def _spoken(request, text: str, error: str):
    """A short spoken answer and a normal finish, not silence or an error Vapi would end the call on:
    a voice call over the key's rate limit, or an utterance too long to send the model."""
    body = _body(request)
    try:
        model = resolve_model(_model_name(body))
    except ModelNotFound:
        model = resolve_model(None)
    record = request.fintalk
    record.model, record.error = model.id, error
    record.spoken.append(text)  # the call record keeps what the caller heard
    chunks = protocol.ChunkFactory(model.id)
    if body.get("stream") is False:
        return Response(protocol.chat_completion(model=model.id, content=text, finish="stop",
                                                 usage=protocol.Usage(0, 0), completion_id=chunks.id,
                                                 created=chunks.created))
    options = body.get("stream_options")
    include_usage = isinstance(options, dict) and options.get("include_usage") is True
    return _sse(record, _events(protocol.spoken_reply(chunks, text, include_usage=include_usage)))


class ChatCompletionsView(APIView):
    """POST /chat/completions: an agent turn as an OpenAI chat completion, streamed unless the client wants JSON."""

    over_limit = False

    def throttled(self, request, wait):
        """Over the rate limit, a voice call (its body has `call`) is answered by `_spoken` (BUSY_REPLY); others get the 429."""
        try:
            voice = is_voice_call(_body(request))
        except Exception:  # an unreadable body is no voice call; the 429 comes first
            voice = False
        if not voice:
            super().throttled(request, wait)  # raises Throttled: the 429 with Retry-After
        self.over_limit = True

    async def turn(self, request, data: dict, body: dict, model, signed=None) -> tuple:
        """The turn this request asks for and who vouched for its phone (api.conversation.build_turn;
        `signed`: another voice stack's signed caller headers). The console's playground adds who acts
        and its conversation, and may refuse the caller."""
        return build_turn(data, body, request.fintalk.request_id, model, signed)

    @docs.chat_completions
    async def post(self, request):
        if self.over_limit:
            return _spoken(request, BUSY_REPLY, "rate_limit_exceeded")
        body, model, data, record = _requested(request, ChatCompletionRequestSerializer,
                                               reserved_tool_names=agent_tool_names(),
                                               stream_default=chat_streams_by_default(request))
        signed = _signed_caller(request)
        voice = is_voice_call(body) or signed is not None  # what is streamed is spoken
        try:
            running = await start_turn(_run(await self.turn(request, data, body, model, signed), record), record)
        except ContextLengthExceeded:
            if not voice:
                raise
            return _spoken(request, TOO_LONG_REPLY, ContextLengthExceeded.code)
        chunks = protocol.ChunkFactory(model.id)
        if data["stream"]:
            include_usage = bool((data.get("stream_options") or {}).get("include_usage"))
            return _sse(record, chat_completion_stream(running, chunks, include_usage=include_usage, voice=voice))
        result = await collect(running)
        end = result.end
        return Response(protocol.chat_completion(
            model=end.model_id or model.id, content=result.text or (None if result.tool_calls else ""),
            finish=protocol.finish_reason(end.stop_reason), usage=usage_of(end),
            tool_calls=result.tool_calls, completion_id=chunks.id, created=chunks.created,
        ))


class DeprecatedAgentOpenAIView(ChatCompletionsView):
    """POST /api/agent/query/openai/: the old name of chat completions, kept for existing clients."""

    @docs.deprecated_chat_completions
    async def post(self, request):
        return await super().post(request)

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        response["Deprecation"] = "true"
        response["Link"] = '</api/chat/completions>; rel="successor-version"'
        return response


class AgentQueryView(APIView):
    """POST /api/agent/query/: the native endpoint, `{"query", "phone_number"}` -> `{"response", ...}`."""

    @docs.agent_query
    async def post(self, request):
        data = _validated(AgentQuerySerializer, request)
        model = resolve_model(None)
        record = request.fintalk
        record.model = model.id
        native = build_native_turn(data["query"], data.get("phone_number"), record.request_id, model)
        running = await start_turn(_run(native, record), record)
        result = await collect(running)
        end = result.end
        return Response({
            "response": result.text,
            "model": end.model_id or model.id,
            "finish_reason": protocol.finish_reason(end.stop_reason),
            "tool_calls": [{"tool": name, "outcome": outcome} for name, outcome in end.tool_calls],
            "usage": usage_of(end).to_dict(),
        })


class ModelListView(APIView):
    @docs.list_models
    def get(self, request):
        return Response(protocol.model_list(
            [protocol.model_object(model.id, model.owned_by, MODEL_CREATED) for model in available_models()]
        ))


class ModelDetailView(APIView):
    """GET /models/{id}: a lookup, so an id this server does not offer is a 404 (no fallback here)."""

    @docs.retrieve_model
    def get(self, request, model_id: str):
        for model in available_models():
            if model.id == model_id:
                return Response(protocol.model_object(model.id, model.owned_by, MODEL_CREATED))
        raise ModelNotFound(f"The model '{model_id}' does not exist.", param="model")


class ResponsesView(APIView):
    """POST /responses: the Responses API over the same agent turn (stateless)."""

    @docs.responses_api
    async def post(self, request):
        body, model, data, record = _requested(request, ResponsesRequestSerializer,
                                               stream_default=streams_only_if_asked(request))
        running = await start_turn(_run(build_turn(data["chat"], body, record.request_id, model), record), record)
        responses = protocol.ResponseFactory(model.id, data)
        if data["stream"]:
            return _sse(record, responses_stream(running, responses))
        result = await collect(running)
        responses.model = result.end.model_id or responses.model
        return Response(responses.response("completed", [responses.message(result.text)], usage_of(result.end)))


class CompletionsView(APIView):
    """POST /completions (legacy): each prompt is a turn of the agent; choices keep the prompts' order."""

    @docs.completions
    async def post(self, request):
        body, model, data, record = _requested(request, CompletionsRequestSerializer,
                                               stream_default=streams_only_if_asked(request))

        def turn_for(prompt: str):
            chat = {**data, "messages": [{"role": "user", "content": prompt}]}
            return start_turn(_run(build_turn(chat, body, record.request_id, model), record), record)

        completion_id, created = protocol.new_completion_id("cmpl"), protocol.now()
        first = await turn_for(data["prompt"][0])
        if data["stream"]:
            async def already_started():
                return first

            starters = [already_started] + [lambda p=p: turn_for(p) for p in data["prompt"][1:]]
            include_usage = bool((data.get("stream_options") or {}).get("include_usage"))
            return _sse(record, completions_stream(starters, record, completion_id, created, model.id, include_usage))
        results = [await collect(first)]
        for prompt in data["prompt"][1:]:
            results.append(await collect(await turn_for(prompt)))
        choices = [protocol.text_choice(i, r.text, protocol.finish_reason(r.end.stop_reason))
                   for i, r in enumerate(results)]
        usage = protocol.Usage(sum(usage_of(r.end).prompt_tokens for r in results),
                               sum(r.end.output_tokens for r in results))
        return Response(protocol.text_completion(completion_id=completion_id, created=created, model=model.id,
                                                 choices=choices, usage=usage))


class EmbeddingsView(APIView):
    """POST /embeddings: Titan Text Embeddings V2 (or the labelled demo embedding)."""

    @docs.embeddings
    async def post(self, request):
        _, model, data, record = _requested(request, EmbeddingsRequestSerializer, kind="embedding")
        vectors, tokens = await embeddings.embed(data["input"], model.id, data.get("dimensions") or model.dimensions[0])
        if data["encoding_format"] == "base64":
            vectors = [embeddings.as_base64(vector) for vector in vectors]
        record.tokens_in = tokens
        return Response(protocol.embedding_list(model.id, vectors, tokens))
