"""The wire objects: what the strict openai SDK parses."""
import json

import pytest
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from api import protocol


@pytest.mark.parametrize("stop,finish", [("end_turn", "stop"), ("stop_sequence", "stop"), ("max_tokens", "length"),
                                         ("tool_use", "tool_calls"), ("content_filtered", "content_filter"),
                                         ("guardrail_intervened", "content_filter"), ("weird", "stop"), (None, "stop")])
def test_finish_reason_mapping(stop, finish):
    assert protocol.finish_reason(stop) == finish


def test_chunks_validate_against_the_sdk_types():
    chunks = protocol.ChunkFactory("m")
    for payload in (chunks.role(), chunks.content("hi"), chunks.finish("stop"), chunks.usage(protocol.Usage(3, 4))):
        frame = protocol.sse_event(payload)
        assert frame.startswith(b"data: ") and frame.endswith(b"\n\n")
        parsed = ChatCompletionChunk.model_validate(json.loads(frame[6:]))
        assert parsed.id == chunks.id and parsed.created == chunks.created
    assert chunks.usage(protocol.Usage(3, 4))["usage"]["total_tokens"] == 7


def test_completion_validates_against_the_sdk_type():
    body = protocol.chat_completion(model="m", content="hello", finish="stop", usage=protocol.Usage(1, 2))
    completion = ChatCompletion.model_validate(body)
    assert completion.choices[0].message.content == "hello" and completion.usage.total_tokens == 3


def test_error_body_has_all_four_keys():
    assert protocol.error_body("m", "t") == {"error": {"message": "m", "type": "t", "param": None, "code": None}}
