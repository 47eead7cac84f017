"""Every failure is an OpenAI error body with the right status, never HTML: through the real server."""
import httpx
import pytest

from tests.conftest import API_KEY

ERROR_KEYS = {"message", "type", "param", "code"}


def assert_openai_error(response, status, error_type=None, code=None):
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert set(error) == ERROR_KEYS
    if error_type:
        assert error["type"] == error_type
    if code:
        assert error["code"] == code
    return error


@pytest.mark.parametrize("path", ["/nope", "/api/nope", "/v1/chat/completion", "/"])
def test_unknown_routes_are_json_404(http, path):
    assert_openai_error(http.get(path), 404, "invalid_request_error", "not_found")


def test_wrong_method_is_405(http):
    assert_openai_error(http.get("/api/chat/completions"), 405, code="method_not_allowed")
    assert_openai_error(http.delete("/v1/models"), 405)


def test_trailing_slash_is_optional(http, standin):
    for path in ("/api/chat/completions/", "/v1/chat/completions/"):
        response = http.post(path, json={"stream": False, "messages": [{"role": "user", "content": "hi"}]})
        assert response.status_code == 200
    assert http.get("/api/models/").status_code == 200


def test_malformed_json_is_400(http):
    response = http.post("/api/chat/completions", content=b'{"messages": [', headers={"content-type": "application/json"})
    assert_openai_error(response, 400, "invalid_request_error", "invalid_json")


def test_non_object_body_is_400(http):
    assert_openai_error(http.post("/api/chat/completions", json=[1, 2]), 400, "invalid_request_error")


def test_wrong_content_type_is_415(http):
    response = http.post("/api/chat/completions", content=b"messages=hi",
                         headers={"content-type": "application/x-www-form-urlencoded"})
    assert_openai_error(response, 415)


def test_oversize_body_is_413(http):
    huge = "x" * 1_100_000
    response = http.post("/api/chat/completions", json={"messages": [{"role": "user", "content": huge}]})
    assert_openai_error(response, 413)


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer"},
                                     {"Authorization": "Bearer " + API_KEY + "x"}])
def test_missing_or_malformed_keys_are_401(server, headers):
    response = httpx.post(server.url + "/v1/chat/completions", headers=headers,
                          json={"messages": [{"role": "user", "content": "hi"}]})
    error = assert_openai_error(response, 401, "authentication_error", "invalid_api_key")
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert API_KEY not in error["message"]


def test_models_need_a_key_too(server):
    assert_openai_error(httpx.get(server.url + "/api/models"), 401)


def test_deprecated_agent_openai_alias_answers_with_deprecation_header(http, standin):
    response = http.post("/api/agent/query/openai/", json={"stream": False, "messages": [{"role": "user", "content": "hi"}]})
    assert response.status_code == 200
    assert response.headers["deprecation"] == "true"
    assert response.json()["object"] == "chat.completion"


def test_an_agent_error_inside_a_stream_names_the_same_param_as_over_http():
    """api.streaming renders a failure after the stream began with api.errors' mapping, so an
    agent error (which names its subject, not OpenAI's `param`) gets the param an HTTP error gets."""
    import asyncio
    import json
    from types import SimpleNamespace

    from api import protocol
    from api.errors import fintalk_error_body
    from api.streaming import RunningTurn, chat_completion_stream
    from core.exceptions import ContextLengthExceeded

    error = ContextLengthExceeded("The latest message is too long.")

    async def events():
        raise error
        yield  # an async generator

    record = SimpleNamespace(elapsed=lambda: 0.0, failed=lambda exc: None, said=lambda text: None)

    async def stream():
        running = RunningTurn(events(), record, deadline=5)
        chunks = protocol.ChunkFactory("m")
        return [frame async for frame in chat_completion_stream(running, chunks, include_usage=False, voice=False)]

    frames = [frame.decode() if isinstance(frame, bytes) else frame for frame in asyncio.run(stream())]
    sent = json.loads(frames[-2].removeprefix("data: "))
    assert sent == fintalk_error_body(error) and sent["error"]["param"] == "messages"
    assert frames[-1].strip() == "data: [DONE]"
