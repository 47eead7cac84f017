"""The OpenAI wire format, in one place: completion, chunk, usage, model, error and SSE framing.

Every byte Fintalk sends to an OpenAI client is built here, so the shape that the `openai` SDK
parses strictly (all keys of an error; `choices` on every chunk; the same id and created on
every chunk of a stream) is decided once. Plain dicts and `json.dumps` keep a streamed chunk
cheap: it is built for every token.
"""
import json
import time
import uuid
from dataclasses import dataclass

DONE_EVENT = b"data: [DONE]\n\n"
KEEPALIVE_EVENT = b": ping\n\n"

# Bedrock's stopReason -> OpenAI finish_reason.
_FINISH_REASONS = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
    "content_filtered": "content_filter",
    "guardrail_intervened": "content_filter",
}


def finish_reason(stop_reason: str | None) -> str:
    return _FINISH_REASONS.get(stop_reason or "", "stop")


@dataclass(frozen=True)
class Usage:
    prompt_tokens: int
    completion_tokens: int

    def to_dict(self) -> dict:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
        }


def error_body(message: str, error_type: str, param: str | None = None, code: str | None = None) -> dict:
    """`{"error": {...}}` with all four keys, as the SDK expects."""
    return {"error": {"message": message, "type": error_type, "param": param, "code": code}}


def sse_event(payload: dict) -> bytes:
    return b"data: " + json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode() + b"\n\n"


def new_completion_id(prefix: str = "chatcmpl") -> str:
    return f"{prefix}-{uuid.uuid4().hex}"


def now() -> int:
    return int(time.time())


class ChunkFactory:
    """Builds the `chat.completion.chunk` objects of one stream (shared id, created, model)."""

    def __init__(self, model: str, completion_id: str | None = None, created: int | None = None):
        self.id = completion_id or new_completion_id()
        self.created = created or now()
        self.model = model

    def _chunk(self, choices: list, usage: dict | None = None) -> dict:
        return {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "system_fingerprint": None,
            "choices": choices,
            "usage": usage,
        }

    def _choice(self, delta: dict, finish: str | None = None) -> list:
        return [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]

    def role(self) -> dict:
        return self._chunk(self._choice({"role": "assistant", "content": ""}))

    def content(self, text: str) -> dict:
        return self._chunk(self._choice({"content": text}))

    def finish(self, reason: str) -> dict:
        return self._chunk(self._choice({}, reason))

    def usage(self, usage: Usage) -> dict:
        return self._chunk([], usage.to_dict())


def chat_completion(*, model: str, content: str, finish: str, usage: Usage,
                    completion_id: str | None = None, created: int | None = None) -> dict:
    return {
        "id": completion_id or new_completion_id(),
        "object": "chat.completion",
        "created": created or now(),
        "model": model,
        "system_fingerprint": None,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content, "refusal": None},
                "logprobs": None,
                "finish_reason": finish,
            }
        ],
        "usage": usage.to_dict(),
    }


def model_object(model_id: str, owned_by: str, created: int) -> dict:
    return {"id": model_id, "object": "model", "created": created, "owned_by": owned_by}


def model_list(models: list[dict]) -> dict:
    return {"object": "list", "data": models}
