"""The bank assistant: one LlamaIndex FunctionAgent per event loop, built once and reused by every turn."""
from llama_index.core.agent.workflow import FunctionAgent
from llama_index.core.bridge.pydantic import PrivateAttr

from agent.context import turn
from agent.prompts import SYSTEM_PROMPT
from agent.providers import get_llm, loop_cache
from agent.tools import build_tools


class BankAgent(FunctionAgent):
    """FunctionAgent whose step table is found once, and whose tools can grow per turn.

    The workflow runtime rediscovers the steps with `inspect.getmembers` several times per run
    (about 3 ms of CPU a turn, measured); an agent's steps never change once it is built.
    """

    _step_table: dict | None = PrivateAttr(default=None)

    def _get_steps(self):
        if self._step_table is None:
            self._step_table = super()._get_steps()
        return self._step_table

    async def get_tools(self, input_str=None):
        """The bank's tools plus the turn's own (client tools, structured output)."""
        policy = turn().tools
        if not policy.offer_tools:
            return []
        bank = await super().get_tools(input_str)
        return [*bank, *policy.extra_tools] if policy.extra_tools else bank


async def get_agent() -> FunctionAgent:
    cache = loop_cache()
    if cache.agent is None:
        llm = await get_llm()
        if cache.agent is None:
            cache.agent = BankAgent(
                name="fin",
                description="Fintalk Bank's voice assistant.",
                system_prompt=SYSTEM_PROMPT,
                tools=build_tools(),
                llm=llm,
                streaming=True,
            )
    return cache.agent
