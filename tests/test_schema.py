"""The published OpenAPI contract, through the real server: its content, the Swagger UI, and a
bounded schemathesis run against the demo model (no 500, every answer as documented, no hang)."""
import re

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import API_KEY, LiveServer

AUTH = {"Authorization": f"Bearer {API_KEY}"}


@pytest.fixture(scope="module")
def contract_server(tmp_path_factory):
    server = LiveServer(tmp_path_factory.mktemp("contract"), {"FINTALK_LLM": "demo"}).start()
    yield server
    server.stop()


def test_schema_is_openapi_3_1_with_objects_errors_and_bearer_auth(contract_server):
    response = httpx.get(contract_server.url + "/api/schema/", headers={"Accept": "application/json"})
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"] == "3.1.0"
    assert {"/api/chat/completions", "/api/responses", "/api/completions", "/api/embeddings", "/api/models",
            "/api/models/{model_id}", "/api/agent/query"} <= set(schema["paths"])
    components = schema["components"]
    assert {"ChatCompletionRequest", "ChatCompletion", "ChatCompletionChunk", "Response", "Error", "ModelList",
            "EmbeddingList"} <= set(components["schemas"])
    assert components["securitySchemes"]["bearerAuth"] == {**components["securitySchemes"]["bearerAuth"],
                                                           "type": "http", "scheme": "bearer"}
    chat = schema["paths"]["/api/chat/completions"]["post"]
    assert chat["security"] == [{"bearerAuth": []}]
    assert set(chat["responses"]["200"]["content"]) == {"application/json", "text/event-stream"}
    assert chat["responses"]["400"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
    assert "Retry-After" in chat["responses"]["429"]["headers"]
    yaml = httpx.get(contract_server.url + "/api/schema")
    assert yaml.status_code == 200 and yaml.text.startswith("openapi: 3.1.0")


def test_swagger_ui_is_served_with_its_own_files(contract_server):
    page = httpx.get(contract_server.url + "/api/docs/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assets = re.findall(r'(?:src|href)="(/static/drf_spectacular_sidecar/[^"]+)"', page.text)
    assert any(asset.endswith("swagger-ui-bundle.js") for asset in assets), page.text
    assert "/api/schema" in page.text and "cdn" not in page.text.lower()
    for asset in assets:
        assert httpx.get(contract_server.url + asset).status_code == 200, asset


CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance]
EXAMPLES = 10  # per operation and generation mode: bounded, so the run stays well under a minute


def fuzz(operation, mode: GenerationMode, base_url: str) -> str | None:
    """Up to EXAMPLES generated requests for one operation; the first failure found, if any."""
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    def run(case):
        case.call_and_validate(base_url=base_url, headers=AUTH, timeout=15, checks=CHECKS)  # a hang fails

    try:
        run()
    except (Exception, BaseExceptionGroup) as failure:  # schemathesis' failure groups, timeouts, ...
        return f"{operation.label} ({mode.value}): {failure}"
    return None


@pytest.mark.parametrize("accept,stream", [("application/json", None), ("*/*", None), ("*/*", True),
                                           ("text/event-stream", None), ("text/event-stream", False)])
def test_documented_examples_get_documented_answers(contract_server, accept, stream):
    """Every operation's own example, streamed and not: each chunk and event checked against its schema."""
    schema = schemathesis.openapi.from_url(contract_server.url + "/api/schema/?format=json")
    raw = httpx.get(contract_server.url + "/api/schema/?format=json").json()["paths"]
    checked = 0
    for operation in (result.ok() for result in schema.get_all_operations()):
        content = raw[operation.path][operation.method.lower()].get("requestBody", {}).get("content", {})
        for example in content.get("application/json", {}).get("examples", {}).values():
            body = {**example["value"], **({} if stream is None else {"stream": stream})}
            case = operation.Case(body=body, media_type="application/json")
            response = case.call_and_validate(base_url=contract_server.url, headers={**AUTH, "Accept": accept},
                                              timeout=15, checks=CHECKS)
            assert response.status_code == 200, response.text
            checked += 1
    assert checked >= 6


def test_fuzzed_requests_get_documented_answers(contract_server):
    schema = schemathesis.openapi.from_url(contract_server.url + "/api/schema/?format=json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 8
    failures = [failure for operation in operations for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
                if (failure := fuzz(operation, mode, contract_server.url))]
    assert failures == [], "\n\n".join(failures)
