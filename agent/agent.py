"""The bank assistant: one LlamaIndex FunctionAgent per event loop, built once and reused by every turn."""
from llama_index.core.agent.workflow import FunctionAgent

from agent.prompts import SYSTEM_PROMPT
from agent.providers import get_llm, loop_cache
from agent.tools import build_tools


async def get_agent() -> FunctionAgent:
    cache = loop_cache()
    if cache.agent is None:
        llm = await get_llm()
        if cache.agent is None:
            cache.agent = FunctionAgent(
                name="fin",
                description="Fintalk Bank's voice assistant.",
                system_prompt=SYSTEM_PROMPT,
                tools=build_tools(),
                llm=llm,
                streaming=True,
            )
    return cache.agent
