"""LLM providers: which models this server offers, and the LlamaIndex LLM that serves them.

Clients are built lazily, once per event loop (an aiobotocore client belongs to the loop that
created it), never at import time, and closed at shutdown (`close_providers`). Per-request
inference settings (temperature, max tokens, ...) reach the shared LLM through the turn context.
"""
import asyncio
import weakref
from contextlib import AsyncExitStack
from dataclasses import dataclass

from django.conf import settings
from llama_index.core.bridge.pydantic import PrivateAttr
from llama_index.core.llms import ChatMessage, MessageRole
from llama_index.core.llms.function_calling import FunctionCallingLLM
from llama_index.llms.bedrock_converse import BedrockConverse

from agent.client_tools import SchemaToolMetadata
from agent.context import turn
from fintalk.exceptions import ModelNotFound

NOVA_MAX_TEMPERATURE = 1.0  # Bedrock Nova accepts 0..1; OpenAI's 0..2 is clamped to 1.
MODEL_CREATED = 1733011200  # 2024-12-01, when Amazon Nova became generally available


@dataclass(frozen=True)
class ModelInfo:
    id: str
    owned_by: str
    max_output_tokens: int = 0
    kind: str = "chat"  # chat | embedding
    dimensions: tuple[int, ...] = ()  # embedding sizes the model offers, the default first


TITAN_DIMENSIONS = (1024, 512, 256)  # Titan Text Embeddings V2


def available_models() -> list[ModelInfo]:
    if settings.FINTALK_LLM == "demo":
        from agent.demo_llm import DEMO_EMBEDDING_MODEL_ID, DEMO_MODEL_ID

        return [ModelInfo(DEMO_MODEL_ID, "fintalk", 4096),
                ModelInfo(DEMO_EMBEDDING_MODEL_ID, "fintalk", kind="embedding", dimensions=TITAN_DIMENSIONS)]
    return [ModelInfo(settings.BEDROCK_MODEL_ID, "amazon", 10_000),
            ModelInfo(settings.BEDROCK_EMBEDDING_MODEL_ID, "amazon", kind="embedding", dimensions=TITAN_DIMENSIONS)]


def resolve_model(requested: str | None, kind: str = "chat") -> ModelInfo:
    """The model a request asked for; an absent model means the default one of that kind."""
    models = [model for model in available_models() if model.kind == kind]
    if not requested:
        return models[0]
    for model in models:
        if model.id == requested:
            return model
    names = ", ".join(model.id for model in models)
    raise ModelNotFound(f"The model '{requested}' does not exist or is not a {kind} model. Available: {names}.",
                        param="model")


class MeteredBedrockClient:
    """Wraps the aiobotocore client to record each call's usage and stopReason in the turn meter.

    LlamaIndex's BedrockConverse drops `messageStop.stopReason` from the stream; OpenAI's
    finish_reason needs it. It also closes the HTTP response when the stream ends or is cancelled.
    """

    def __init__(self, client):
        self._client = client

    def __getattr__(self, name):
        return getattr(self._client, name)

    async def converse(self, **kwargs):
        response = await self._client.converse(**kwargs)
        meter = turn().meter
        meter.add_usage(response.get("usage"))
        meter.stop_reason = response.get("stopReason")
        return response

    async def converse_stream(self, **kwargs):
        response = await self._client.converse_stream(**kwargs)
        response["stream"] = _metered(response["stream"], turn().meter)
        return response


async def _metered(stream, meter):
    try:
        async for event in stream:
            if "messageStop" in event:
                meter.stop_reason = event["messageStop"].get("stopReason")
            elif "metadata" in event:
                meter.add_usage(event["metadata"].get("usage"))
            yield event
    finally:
        stream.close()


class TurnAwareBedrockConverse(BedrockConverse):
    """BedrockConverse that applies the running turn's inference settings and tool policy.

    Tools are converted to Bedrock toolSpecs here: the bank's once per process (building each
    tool's JSON schema cost about 2 ms of CPU per call, measured), a client's from its schema.
    """

    _tool_specs: dict = PrivateAttr(default_factory=dict)

    @property
    def _model_kwargs(self):
        kwargs = super()._model_kwargs
        inference = turn().inference
        if inference.temperature is not None:
            kwargs["temperature"] = min(inference.temperature, NOVA_MAX_TEMPERATURE)
        if inference.max_tokens:
            kwargs["max_tokens"] = inference.max_tokens
        extra = {}
        if inference.top_p is not None:
            extra["topP"] = inference.top_p
        if inference.stop:
            extra["stopSequences"] = list(inference.stop)
        if extra:
            kwargs["inferenceConfig"] = extra
        return kwargs

    def _tool_spec(self, tool) -> dict:
        spec = self._tool_specs.get(id(tool))
        if spec is None or spec[0] is not tool:
            spec = (tool, {"toolSpec": {"name": tool.metadata.name, "description": tool.metadata.description,
                                        "inputSchema": {"json": tool.metadata.get_parameters_dict()}}})
            if not isinstance(tool.metadata, SchemaToolMetadata):  # per-request tools are not kept
                self._tool_specs[id(tool)] = spec
        return spec[1]

    def _prepare_chat_with_tools(self, tools, user_msg=None, chat_history=None, verbose=False,
                                 allow_parallel_tool_calls=False, tool_required=False, tool_caching=False,
                                 tool_choice=None, **kwargs):
        messages = list(chat_history or [])
        if user_msg is not None:
            messages.append(ChatMessage(role=MessageRole.USER, content=user_msg) if isinstance(user_msg, str) else user_msg)
        if not tools:
            return {"messages": messages, **kwargs}
        policy = turn().tools
        choice = {"auto": {}}
        first_call = bool(messages) and messages[-1].role == MessageRole.USER
        if policy.force_every_call:
            choice = {"any": {}}
        elif policy.choice and first_call:  # forcing again after the tool ran would loop
            choice = policy.choice
        return {"messages": messages, "tools": {"tools": [self._tool_spec(t) for t in tools], "toolChoice": choice},
                **kwargs}


def _botocore_config():
    from botocore.config import Config

    return Config(
        connect_timeout=settings.BEDROCK_CONNECT_TIMEOUT,
        read_timeout=settings.BEDROCK_READ_TIMEOUT,
        retries={"mode": "standard", "total_max_attempts": settings.BEDROCK_MAX_ATTEMPTS},
        max_pool_connections=settings.BEDROCK_MAX_POOL_CONNECTIONS,
    )


async def _build_bedrock_llm(stack) -> FunctionCallingLLM:
    import aioboto3

    config = _botocore_config()
    # No endpoint_url here: boto3 itself honours AWS_ENDPOINT_URL_BEDROCK_RUNTIME.
    session = aioboto3.Session(region_name=settings.AWS_REGION)
    client = await stack.enter_async_context(session.client("bedrock-runtime", config=config))
    _resources().bedrock_client = client
    return TurnAwareBedrockConverse(
        model=settings.BEDROCK_MODEL_ID,
        region_name=settings.AWS_REGION,
        async_client=MeteredBedrockClient(client),
        botocore_config=config,
        max_tokens=settings.FINTALK_DEFAULT_MAX_TOKENS,
        max_retries=1,  # botocore's standard retry mode (above) is the only retry layer
        timeout=settings.BEDROCK_READ_TIMEOUT,
    )


async def _build_llm(stack) -> FunctionCallingLLM:
    if settings.FINTALK_LLM == "demo":
        from agent.demo_llm import DemoBankLLM

        return DemoBankLLM()
    return await _build_bedrock_llm(stack)


@dataclass
class _LoopResources:
    lock: asyncio.Lock
    stack: object = None
    llm: FunctionCallingLLM | None = None
    agent: object = None
    bedrock_client: object = None  # the raw aiobotocore client (embeddings use it directly)


_per_loop: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopResources]" = weakref.WeakKeyDictionary()


def _resources() -> _LoopResources:
    loop = asyncio.get_running_loop()
    resources = _per_loop.get(loop)
    if resources is None:
        resources = _per_loop[loop] = _LoopResources(lock=asyncio.Lock())
    return resources


async def get_llm() -> FunctionCallingLLM:
    resources = _resources()
    if resources.llm is None:
        async with resources.lock:
            if resources.llm is None:
                resources.stack = AsyncExitStack()
                resources.llm = await _build_llm(resources.stack)
    return resources.llm


async def get_bedrock_client():
    """This loop's aiobotocore bedrock-runtime client (built with the LLM)."""
    await get_llm()
    return _resources().bedrock_client


def loop_cache() -> _LoopResources:
    """Per-event-loop slot for objects built once (the agent keeps itself here)."""
    return _resources()


async def close_providers() -> None:
    """Close this loop's clients (called at ASGI lifespan shutdown)."""
    resources = _per_loop.pop(asyncio.get_running_loop(), None)
    if resources and resources.stack is not None:
        await resources.stack.aclose()
