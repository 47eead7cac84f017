"""Which models are offered, what each Bedrock family accepts, and how a requested name resolves."""
import logging

import pytest

from agent import models
from api.errors import wire_param
from core.exceptions import ModelNotFound

NOVA, CLAUDE = "amazon.nova-lite-v1:0", "anthropic.claude-3-5-haiku-20241022-v1:0"
TITAN = "amazon.titan-embed-text-v2:0"


@pytest.fixture
def bedrock(settings):
    settings.FINTALK_LLM = "bedrock"
    settings.BEDROCK_MODEL_IDS = [NOVA, CLAUDE, "us.meta.llama3-1-8b-instruct-v1:0", "mistral.mistral-large-2402-v1:0"]
    settings.BEDROCK_EMBEDDING_MODEL_ID = TITAN
    settings.FINTALK_UNKNOWN_MODEL = "fallback"
    return settings


def test_each_family_has_its_own_limits(bedrock):
    offered = {model.id: model for model in models.available_models()}
    assert [model.id for model in offered.values()] == bedrock.BEDROCK_MODEL_IDS + [TITAN]
    limits = {model_id: (model.owned_by, model.max_output_tokens) for model_id, model in offered.items()}
    assert limits[NOVA] == ("amazon", 10_000) and limits[CLAUDE] == ("anthropic", 8_192)
    assert limits["us.meta.llama3-1-8b-instruct-v1:0"] == ("meta", 2_048)  # a cross-region profile too
    assert limits["mistral.mistral-large-2402-v1:0"] == ("mistral", 8_192)
    assert offered[CLAUDE].clamp_temperature(1.7) == 1.0 and offered[NOVA].clamp_temperature(0.3) == 0.3
    assert offered[NOVA].clamp_temperature(None) is None
    assert offered[TITAN].kind == "embedding" and offered[TITAN].dimensions[0] == 1024


def test_names_resolve_to_the_named_or_the_default_model(bedrock, caplog):
    assert models.resolve_model(CLAUDE).id == CLAUDE
    assert models.resolve_model(None).id == NOVA and models.resolve_model("").id == NOVA
    assert models.resolve_model("text-embedding-3-small", "embedding").id == TITAN
    with caplog.at_level(logging.WARNING, logger="fintalk.models"):
        assert [models.resolve_model("gpt-4-test-name").id for _ in range(3)] == [NOVA] * 3
    assert len([r for r in caplog.records if getattr(r, "requested_model", None) == "gpt-4-test-name"]) == 1
    with pytest.raises(ModelNotFound):  # an offered model of the other kind is a mistake, not a saved name
        models.resolve_model(TITAN)


def test_reject_restores_model_not_found(bedrock):
    bedrock.FINTALK_UNKNOWN_MODEL = "reject"
    with pytest.raises(ModelNotFound) as info:
        models.resolve_model("gpt-4o")
    # The agent says what is wrong in its own terms; the API edge names the request field.
    assert info.value.param is None and wire_param(info.value) == "model" and NOVA in info.value.message
    assert models.resolve_model(NOVA).id == NOVA
