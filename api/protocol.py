"""The OpenAI wire format, in one place: completion, chunk, usage, model, error and SSE framing.

Every byte Fintalk sends to an OpenAI client is built here, so the shape that the `openai` SDK
parses strictly (all keys of an error; `choices` on every chunk; the same id and created on
every chunk of a stream) is decided once. Plain dicts and `orjson` keep a streamed chunk
cheap: it is built for every token.
"""
import time
import uuid
from dataclasses import dataclass

import orjson

DONE_EVENT = b"data: [DONE]\n\n"
KEEPALIVE_EVENT = b": ping\n\n"


def tool_comment(name: str) -> bytes:
    """An SSE comment naming a bank tool as it starts: OpenAI clients skip comments; the playground shows it."""
    return b": tool " + name.encode() + b"\n\n"

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
    """prompt_tokens counts every prompt token, those read from and written to the model's cache too
    (Bedrock's inputTokens leaves them out); cached_tokens are the ones read from it."""

    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int = 0
    cache_write_tokens: int = 0

    @classmethod
    def of_turn(cls, input_tokens: int, output_tokens: int, cache_read: int = 0, cache_write: int = 0) -> "Usage":
        """From Bedrock's counts, where inputTokens excludes the cache's reads and writes."""
        return cls(input_tokens + cache_read + cache_write, output_tokens, cache_read, cache_write)

    def to_dict(self) -> dict:
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.prompt_tokens + self.completion_tokens,
            "prompt_tokens_details": {"cached_tokens": self.cached_tokens},
        }


def error_body(message: str, error_type: str, param: str | None = None, code: str | None = None) -> dict:
    """`{"error": {...}}` with all four keys, as the SDK expects."""
    return {"error": {"message": message, "type": error_type, "param": param, "code": code}}


def sse_event(payload: dict) -> bytes:
    return b"data: " + orjson.dumps(payload) + b"\n\n"


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

    def tool_call(self, index: int, call_id: str, name: str, arguments: str, fragment: int = 24) -> list[dict]:
        """One tool call as OpenAI streams it: id, type and name first, then the arguments in pieces."""
        head = {"index": index, "id": call_id, "type": "function", "function": {"name": name, "arguments": ""}}
        chunks = [self._chunk(self._choice({"role": "assistant", "content": None, "tool_calls": [head]}))]
        for start in range(0, len(arguments), fragment):
            piece = {"index": index, "function": {"arguments": arguments[start:start + fragment]}}
            chunks.append(self._chunk(self._choice({"tool_calls": [piece]})))
        return chunks

    def usage(self, usage: Usage) -> dict:
        return self._chunk([], usage.to_dict())


def spoken_reply(chunks: ChunkFactory, text: str, include_usage: bool = False) -> list[bytes]:
    """A whole short answer as one stream (role, text, finish "stop", [usage], [DONE]): what a voice
    caller hears when no turn runs, e.g. over the rate limit."""
    events = [chunks.role(), chunks.content(text), chunks.finish("stop")]
    if include_usage:
        events.append(chunks.usage(Usage(0, 0)))
    return [sse_event(event) for event in events] + [DONE_EVENT]


def tool_call_object(call_id: str, name: str, arguments: str) -> dict:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def chat_completion(*, model: str, content: str | None, finish: str, usage: Usage, tool_calls: list | None = None,
                    completion_id: str | None = None, created: int | None = None) -> dict:
    message = {"role": "assistant", "content": content, "refusal": None}
    if tool_calls:
        message["tool_calls"] = tool_calls
    return {
        "id": completion_id or new_completion_id(),
        "object": "chat.completion",
        "created": created or now(),
        "model": model,
        "system_fingerprint": None,
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
        "usage": usage.to_dict(),
    }


def model_object(model_id: str, owned_by: str, created: int) -> dict:
    return {"id": model_id, "object": "model", "created": created, "owned_by": owned_by}


def model_list(models: list[dict]) -> dict:
    return {"object": "list", "data": models}


# --- Legacy completions (`text_completion`) -------------------------------------------------------

def text_completion(*, completion_id: str, created: int, model: str, choices: list[dict],
                    usage: Usage | None = None) -> dict:
    body = {"id": completion_id, "object": "text_completion", "created": created, "model": model,
            "system_fingerprint": None, "choices": choices}
    if usage is not None:
        body["usage"] = usage.to_dict()
    return body


def text_choice(index: int, text: str, finish: str | None) -> dict:
    return {"index": index, "text": text, "logprobs": None, "finish_reason": finish}


# --- Embeddings -------------------------------------------------------------------------------------

def embedding_list(model: str, vectors: list, tokens: int) -> dict:
    return {
        "object": "list",
        "data": [{"object": "embedding", "index": index, "embedding": vector} for index, vector in enumerate(vectors)],
        "model": model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }


# --- The Responses API ------------------------------------------------------------------------------

def response_sse(event_type: str, payload: dict) -> bytes:
    """Responses API events carry their type in an `event:` line too, as OpenAI sends them."""
    return f"event: {event_type}\n".encode() + sse_event({"type": event_type, **payload})


class ResponseFactory:
    """Builds one Responses API `response` object and its streaming events (shared ids and sequence)."""

    def __init__(self, model: str, request: dict):
        self.id = "resp_" + uuid.uuid4().hex
        self.message_id = "msg_" + uuid.uuid4().hex
        self.created_at = now()
        self.model = model
        self.request = request
        self.sequence = 0

    def message(self, text: str, status: str = "completed") -> dict:
        content = [] if status == "in_progress" else [self.text_part(text)]
        return {"type": "message", "id": self.message_id, "status": status, "role": "assistant", "content": content}

    @staticmethod
    def text_part(text: str) -> dict:
        return {"type": "output_text", "text": text, "annotations": [], "logprobs": []}

    def response(self, status: str, output: list, usage: Usage | None = None, error: dict | None = None) -> dict:
        return {
            "id": self.id, "object": "response", "created_at": self.created_at, "status": status,
            "model": self.model, "output": output, "error": error, "incomplete_details": None,
            "instructions": self.request.get("instructions"), "metadata": self.request.get("metadata") or {},
            "temperature": self.request.get("temperature"), "top_p": self.request.get("top_p"),
            "max_output_tokens": self.request.get("max_output_tokens"), "previous_response_id": None,
            "parallel_tool_calls": True, "tool_choice": "auto", "tools": [], "store": False,
            "text": {"format": {"type": "text"}}, "truncation": "disabled", "user": self.request.get("user"),
            "usage": None if usage is None else {
                "input_tokens": usage.prompt_tokens, "output_tokens": usage.completion_tokens,
                "total_tokens": usage.prompt_tokens + usage.completion_tokens,
                "input_tokens_details": {"cached_tokens": usage.cached_tokens,
                                         "cache_write_tokens": usage.cache_write_tokens},
                "output_tokens_details": {"reasoning_tokens": 0},
            },
        }

    def event(self, event_type: str, **payload) -> bytes:
        frame = response_sse(event_type, {**payload, "sequence_number": self.sequence})
        self.sequence += 1
        return frame

    def text_location(self) -> dict:
        return {"item_id": self.message_id, "output_index": 0, "content_index": 0}
