"""Non-bank LlamaIndex tools that a bank could add with FINTALK_EXTRA_TOOLS (used by the tests).

`faq_tool` is a QueryEngineTool over a tiny keyword query engine on the bank's FAQ documents:
the agent runs it like any of its own tools, without a change to the loop.
"""
import asyncio

from llama_index.core import Document
from llama_index.core.query_engine import CustomQueryEngine
from llama_index.core.tools import FunctionTool, QueryEngineTool

from agent.context import current_turn_context

FAQ = [
    Document(text="Branches open at nine in the morning and close at five, Monday to Friday.",
             metadata={"topic": "opening hours"}),
    Document(text="Replacement cards arrive within five working days.", metadata={"topic": "replacement card"}),
]
FAQ_ANSWER = FAQ[0].text


class KeywordFAQEngine(CustomQueryEngine):
    """Answers with the FAQ document whose topic words appear in the question."""

    def custom_query(self, query_str: str) -> str:
        words = set(query_str.lower().split())
        for document in FAQ:
            if words & set(document.metadata["topic"].split()):
                return document.text
        return "No answer in the FAQ."


faq_tool = QueryEngineTool.from_defaults(
    KeywordFAQEngine(), name="bank_faq", description="Answers common questions from the bank's FAQ documents.")


async def slow_lookup(seconds: float) -> str:
    """Looks something up in a slow core-banking system."""
    await asyncio.sleep(seconds)
    return "found"


async def broken_lookup() -> str:
    """Looks something up in a core-banking system that is down."""
    raise ConnectionError(f"core banking unreachable for caller {current_turn_context().phone}")


async def whose_phone() -> str:
    """Says which phone line the turn is for (the loop gives tools the caller's phone)."""
    return current_turn_context().phone or "none"


def slow_tools():
    return [FunctionTool.from_defaults(async_fn=fn) for fn in (slow_lookup, broken_lookup, whose_phone)]
