"""HTTP endpoints. Thin: validate, build the turn, start it, hand it to a responder.

Everything that can fail (auth, validation, model lookup, the upstream's first answer) is
checked before a streaming response is returned: once streaming begins, DRF's exception
handling no longer applies.
"""
from adrf.views import APIView
from django.http import StreamingHttpResponse
from rest_framework.response import Response

from agent.providers import MODEL_CREATED, available_models, resolve_model
from agent.turn import run_turn
from api import protocol
from api.conversation import build_native_turn, build_turn, is_voice_call
from api.serializers import AgentQuerySerializer, OpenAIQuerySerializer
from api.streaming import chat_completion_stream, collect, start_turn
from fintalk.exceptions import ModelNotFound

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def _validated(serializer_class, request, **context) -> dict:
    serializer = serializer_class(data=request.data, context=context)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


class ChatCompletionsView(APIView):
    """POST /chat/completions: an agent turn as an OpenAI chat completion, streamed by default."""

    async def post(self, request):
        body = request.data if isinstance(request.data, dict) else {}
        model = resolve_model(body.get("model") if isinstance(body.get("model"), str) else None)
        data = _validated(OpenAIQuerySerializer, request, max_output_tokens=model.max_output_tokens)
        record = request.fintalk
        record.model, record.stream = model.id, data["stream"]
        turn = await start_turn(run_turn(build_turn(data, body, record.request_id)), record)
        chunks = protocol.ChunkFactory(model.id)
        if data["stream"]:
            include_usage = bool((data.get("stream_options") or {}).get("include_usage"))
            return StreamingHttpResponse(
                chat_completion_stream(turn, chunks, include_usage=include_usage, voice=is_voice_call(body)),
                content_type="text/event-stream",
                headers=SSE_HEADERS,
            )
        text, end = await collect(turn)
        return Response(protocol.chat_completion(
            model=model.id, content=text, finish=protocol.finish_reason(end.stop_reason),
            usage=protocol.Usage(end.input_tokens, end.output_tokens),
            completion_id=chunks.id, created=chunks.created,
        ))


class DeprecatedAgentOpenAIView(ChatCompletionsView):
    """POST /api/agent/query/openai/: the old name of chat completions, kept for existing clients."""

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        response["Deprecation"] = "true"
        response["Link"] = '</api/chat/completions>; rel="successor-version"'
        return response


class AgentQueryView(APIView):
    """POST /api/agent/query/: the native endpoint, `{"query", "phone_number"}` -> `{"response", ...}`."""

    async def post(self, request):
        data = _validated(AgentQuerySerializer, request)
        model = resolve_model(None)
        record = request.fintalk
        record.model = model.id
        native = build_native_turn(data["query"], data.get("phone_number"), record.request_id)
        turn = await start_turn(run_turn(native), record)
        text, end = await collect(turn)
        return Response({
            "response": text,
            "model": model.id,
            "finish_reason": protocol.finish_reason(end.stop_reason),
            "tool_calls": [{"tool": name, "outcome": outcome} for name, outcome in end.tool_calls],
            "usage": protocol.Usage(end.input_tokens, end.output_tokens).to_dict(),
        })


class ModelListView(APIView):
    def get(self, request):
        return Response(protocol.model_list(
            [protocol.model_object(model.id, model.owned_by, MODEL_CREATED) for model in available_models()]
        ))


class ModelDetailView(APIView):
    def get(self, request, model_id: str):
        for model in available_models():
            if model.id == model_id:
                return Response(protocol.model_object(model.id, model.owned_by, MODEL_CREATED))
        raise ModelNotFound(f"The model '{model_id}' does not exist.", param="model")
