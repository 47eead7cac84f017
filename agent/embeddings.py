"""Text embeddings: Amazon Titan Text Embeddings V2 on Bedrock, or a labelled demo embedding.

Bedrock is called through the same long-lived aiobotocore client as the chat model
(`InvokeModel` with `{"inputText", "dimensions", "normalize"}`), several texts at once. The demo
provider (`FINTALK_LLM=demo`) returns deterministic unit vectors derived from a hash of the text:
stable for tests and demos, but with no meaning — it is not a language model.
"""
import asyncio
import base64
import hashlib
import json
import math
import struct

from django.conf import settings

from agent import bedrock
from agent.upstream import to_fintalk_error

MAX_CONCURRENT_CALLS = 8


def demo_embedding(text: str, dimensions: int) -> list[float]:
    seed = hashlib.sha256(text.encode()).digest()
    raw = []
    counter = 0
    while len(raw) < dimensions:
        block = hashlib.sha256(seed + counter.to_bytes(4, "big")).digest()
        raw.extend(value / 2**31 - 1 for value in struct.unpack(">8I", block))
        counter += 1
    raw = raw[:dimensions]
    norm = math.sqrt(sum(value * value for value in raw)) or 1.0
    return [value / norm for value in raw]


async def _titan(client, model_id: str, text: str, dimensions: int) -> tuple[list[float], int]:
    response = await client.invoke_model(
        modelId=model_id, contentType="application/json", accept="application/json",
        body=json.dumps({"inputText": text, "dimensions": dimensions, "normalize": True}),
    )
    async with response["body"] as body:
        payload = json.loads(await body.read())
    return payload["embedding"], int(payload.get("inputTextTokenCount", 0))


async def embed(texts: list[str], model_id: str, dimensions: int) -> tuple[list[list[float]], int]:
    """Vectors for `texts`, in order, and the input token count."""
    if settings.FINTALK_LLM == "demo":
        return [demo_embedding(text, dimensions) for text in texts], sum(max(1, len(t) // 4) for t in texts)
    client = await bedrock.client()
    limit = asyncio.Semaphore(MAX_CONCURRENT_CALLS)

    async def one(text: str):
        async with limit:
            return await _titan(client, model_id, text, dimensions)

    try:
        results = await asyncio.gather(*(one(text) for text in texts))
    except Exception as exc:
        raise to_fintalk_error(exc) from exc
    return [vector for vector, _ in results], sum(tokens for _, tokens in results)


def as_base64(vector: list[float]) -> str:
    """OpenAI's base64 encoding: little-endian float32s."""
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
