"""Which models this server offers, what each Bedrock model family accepts, and how a name resolves.

Clients name models this server has never heard of: `gpt-3.5-turbo` in the first OpenAI examples,
`gpt-4o` saved with a voice assistant. Refusing them fails every call of that assistant, so an
unknown name is answered by the default model of its kind and the response names the model
really used (as OpenAI-compatible servers in front of other models do). The warning for it is
logged once per name per worker process, not on every turn. `FINTALK_UNKNOWN_MODEL=reject`
restores the strict 404 `model_not_found`.

Output limits and temperature ranges differ by model family on Bedrock; they are kept here so
that `max_tokens` is checked and `temperature` clamped against the model a request really uses.
So is what each family caches (a model without prompt caching may refuse a `cachePoint`), and
what a model's tokens cost (`turn_cost`, from the BEDROCK_PRICES table in settings).
"""
import logging
import threading
from dataclasses import dataclass, replace
from decimal import Decimal
from functools import lru_cache

from django.conf import settings

from agent.context import InferenceSettings
from core.exceptions import ModelNotFound

logger = logging.getLogger("fintalk.models")

TITAN_DIMENSIONS = (1024, 512, 256)  # Titan Text Embeddings V2
MODEL_CREATED = 1733011200  # `created` of every model object: 2024-12-01, when Amazon Nova became generally available


@dataclass(frozen=True)
class ModelFamily:
    """What a family of Bedrock models accepts (Bedrock's inference parameter pages, per provider)."""

    name: str
    owned_by: str
    max_output_tokens: int
    temperature: tuple[float, float]  # the model's range; OpenAI's 0..2 is clamped into it
    # Prompt caching (Bedrock's cachePoint): the system prompt and the history, and the tool specs too.
    caches_prompt: bool = False
    caches_tools: bool = False
    cache_min_tokens: int = 1_024  # a shorter prefix is not cached (the request still succeeds)


NOVA = ModelFamily("nova", "amazon", 10_000, (0.0, 1.0), caches_prompt=True, cache_min_tokens=1_000)
CLAUDE = ModelFamily("claude", "anthropic", 4_096, (0.0, 1.0), caches_prompt=True, caches_tools=True)
LLAMA = ModelFamily("llama", "meta", 2_048, (0.0, 1.0))  # Bedrock's max_gen_len for Llama is 1..2048
MISTRAL = ModelFamily("mistral", "mistral", 8_192, (0.0, 1.0))
OTHER_BEDROCK = ModelFamily("bedrock", "amazon-bedrock", 4_096, (0.0, 1.0))  # a conservative guess
DEMO = ModelFamily("demo", "fintalk", 4_096, (0.0, 2.0))  # the rule-based demo ignores both
DEMO_MODEL_ID = "fintalk-demo"  # the demo app (demo/) answers under these names
DEMO_EMBEDDING_MODEL_ID = "fintalk-demo-embedding"

# Matched anywhere in the id, so cross-region inference profiles ("us.", "eu.", "global.") and
# ARNs that contain the model id are recognised too.
_FAMILIES = (("amazon.nova", NOVA), ("anthropic.claude", CLAUDE), ("meta.llama", LLAMA), ("mistral.", MISTRAL))

# Models whose output limit differs from their family's (first match wins).
_OUTPUT_LIMITS = (
    ("anthropic.claude-3-5-", 8_192),
    ("anthropic.claude-3-7-sonnet", 64_000),
    ("anthropic.claude-sonnet-4", 64_000),
    ("anthropic.claude-opus-4", 32_000),
    ("mistral.mixtral-8x7b", 4_096),
)


def family_of(model_id: str) -> ModelFamily:
    for marker, family in _FAMILIES:
        if marker in model_id:
            return family
    return OTHER_BEDROCK


def output_limit(model_id: str, family: ModelFamily) -> int:
    for marker, limit in _OUTPUT_LIMITS:
        if marker in model_id:
            return limit
    return family.max_output_tokens


@dataclass(frozen=True)
class Price:
    """USD per million tokens."""

    input: Decimal
    output: Decimal
    cache_read: Decimal
    cache_write: Decimal


@lru_cache(maxsize=256)
def price_of(model_id: str) -> Price | None:
    """The model's price from BEDROCK_PRICES: the longest key the id contains (so a cross-region
    profile or an ARN finds its model), or None."""
    found = [marker for marker in settings.BEDROCK_PRICES if marker in model_id]
    if not found:
        return None
    return Price(**settings.BEDROCK_PRICES[max(found, key=len)])


_MILLION = Decimal(1_000_000)


def turn_cost(model_id: str | None, input_tokens: int, output_tokens: int, cache_read: int = 0,
              cache_write: int = 0) -> Decimal | None:
    """What a turn's tokens cost in USD at the model's list price; None for a model not in the table."""
    price = price_of(model_id) if model_id else None
    if price is None:
        return None
    return (input_tokens * price.input + output_tokens * price.output + cache_read * price.cache_read
            + cache_write * price.cache_write) / _MILLION


@dataclass(frozen=True)
class ModelInfo:
    id: str
    owned_by: str
    max_output_tokens: int = 0
    kind: str = "chat"  # chat | embedding
    dimensions: tuple[int, ...] = ()  # embedding sizes the model offers, the default first
    temperature_range: tuple[float, float] = (0.0, 2.0)

    def clamp_temperature(self, temperature: float | None) -> float | None:
        """OpenAI's 0..2 into this model's range (None stays None: the model's own default)."""
        if temperature is None:
            return None
        low, high = self.temperature_range
        return min(max(temperature, low), high)


def for_model(inference: InferenceSettings, model: ModelInfo) -> InferenceSettings:
    """A request's settings as `model` takes them, decided once for the turn: its id, OpenAI's
    temperature (0..2) clamped into its range (Bedrock's families take 0..1), and the output limit
    (the request's, which the serializer checked against the model's, else
    FINTALK_DEFAULT_MAX_TOKENS; never above the model's)."""
    limit = model.max_output_tokens or settings.FINTALK_DEFAULT_MAX_TOKENS
    return replace(inference, model_id=model.id, temperature=model.clamp_temperature(inference.temperature),
                               max_tokens=min(inference.max_tokens or settings.FINTALK_DEFAULT_MAX_TOKENS, limit))


def bedrock_chat_model(model_id: str) -> ModelInfo:
    family = family_of(model_id)
    return ModelInfo(model_id, family.owned_by, output_limit(model_id, family), temperature_range=family.temperature)


def available_models() -> list[ModelInfo]:
    """The chat models (the default first), then the embedding model."""
    if settings.FINTALK_LLM == "demo":
        return [ModelInfo(DEMO_MODEL_ID, DEMO.owned_by, DEMO.max_output_tokens, temperature_range=DEMO.temperature),
                ModelInfo(DEMO_EMBEDDING_MODEL_ID, DEMO.owned_by, kind="embedding", dimensions=TITAN_DIMENSIONS)]
    return [*(bedrock_chat_model(model_id) for model_id in settings.BEDROCK_MODEL_IDS),
            ModelInfo(settings.BEDROCK_EMBEDDING_MODEL_ID, "amazon", kind="embedding", dimensions=TITAN_DIMENSIONS)]


# Names already warned about, per worker process; bounded, since any client can send any name.
_WARNED_LIMIT = 1000
_warned: set[str] = set()
_warned_lock = threading.Lock()


def _warn_once(requested: str, kind: str, used: str) -> None:
    name = requested[:200]
    with _warned_lock:
        if name in _warned or len(_warned) > _WARNED_LIMIT:
            return
        _warned.add(name)
        full = len(_warned) > _WARNED_LIMIT
    logger.warning("unknown %s model requested; answering with the default", kind,
                   extra={"requested_model": name, "model": used})
    if full:
        logger.warning("more than %d unknown model names: no more are logged by this worker", _WARNED_LIMIT)


def resolve_model(requested: str | None, kind: str = "chat") -> ModelInfo:
    """The model that answers a request: the one it names, or the default one of that kind.

    An id this server offers for the other kind (the embedding model on /chat/completions) is a
    404: that request is a mistake, not a name saved elsewhere.
    """
    offered = available_models()
    models = [model for model in offered if model.kind == kind]
    if not requested:
        return models[0]
    for model in models:
        if model.id == requested:
            return model
    names = ", ".join(model.id for model in models)
    if any(model.id == requested for model in offered):
        raise ModelNotFound(f"The model '{requested}' is not a {kind} model. Available: {names}.")
    if settings.FINTALK_UNKNOWN_MODEL == "reject":
        raise ModelNotFound(f"The model '{requested[:200]}' does not exist or is not a {kind} model. "
                            f"Available: {names}.")
    _warn_once(requested, kind, models[0].id)
    return models[0]


# The functions that stream a Converse request, by FINTALK_LLM: "bedrock" here, others (the demo
# app's) registered by their app's AppConfig.ready, so the agent never imports the apps above it.
_STREAMS: dict = {}


def register_stream(name: str, stream) -> None:
    _STREAMS[name] = stream


def model_stream():
    """The function that streams a Converse request: Bedrock's, or a registered one (the demo model's)."""
    if settings.FINTALK_LLM in _STREAMS:
        return _STREAMS[settings.FINTALK_LLM]
    from agent import bedrock

    return bedrock.stream
