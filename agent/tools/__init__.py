"""The agent's tools: one per declared bank action (bank.actions, outbound/actions.py), plus any a
bank adds (FINTALK_EXTRA_TOOLS). Their names and parameters are the contract with the model.

A tool's name, description and schema come from its action's function (the `session` parameter is
the call's, from the turn, never the model's), so the model cannot act on somebody else's account.
Its level is checked by the bank before it runs (bank.actions.perform), its words are the
declaration's, and its outcome is the metric's label (agent.tools.base). Tools are built once per
process for each kind of call.
"""
import functools
from functools import lru_cache
from importlib import import_module

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from llama_index.core.tools import BaseTool, FunctionTool
from llama_index.core.tools.types import adapt_to_async_tool
from llama_index.core.tools.utils import create_schema_from_function

from agent.converse import ToolSpecs
from agent.tools.base import TRANSFER_CALL, call_session, record, run_action
from bank.actions import REGISTRY, Action

__all__ = ["TRANSFER_CALL", "agent_tool_specs", "agent_tool_names", "build_tools", "call_session", "committed", "may_commit",
           "record"]


def committed(tool: str, outcome: str) -> bool:
    """The outcome of this tool means a change to an account was committed: never cut by the tool
    timeout, never reported to the caller as failed (agent/loop.py)."""
    declared = REGISTRY.get(tool)
    return declared is not None and outcome in declared.committing


def may_commit(tool: str) -> bool:
    """The tool may commit a change to an account (some outcome of its declaration commits)."""
    declared = REGISTRY.get(tool)
    return declared is not None and bool(declared.committing)


def _tool(declared: Action) -> FunctionTool:
    @functools.wraps(declared.run)
    async def tool(**arguments):
        return await run_action(declared, arguments)

    schema = create_schema_from_function(declared.name, declared.run, ignore_fields=["session"])
    return FunctionTool.from_defaults(async_fn=tool, name=declared.name, description=declared.description,
                                      fn_schema=schema)


def build_tools(outbound: bool = False) -> list[FunctionTool]:
    """The bank's tools; on an outbound call also the actions declared for its purposes."""
    return [_tool(declared) for declared in REGISTRY.values() if outbound or declared.purpose is None]


def _extra_tools() -> list[BaseTool]:
    """LlamaIndex tools a bank adds without touching the loop: FINTALK_EXTRA_TOOLS="module:name,...",
    each a BaseTool, a list of them, or a callable returning either (a QueryEngineTool over the
    bank's FAQ, a LlamaHub ToolSpec's `to_tool_list`)."""
    tools: list[BaseTool] = []
    for path in settings.FINTALK_EXTRA_TOOLS:
        module, _, name = path.partition(":")
        found = getattr(import_module(module), name)
        if callable(found) and not isinstance(found, BaseTool):
            found = found()
        for tool in found if isinstance(found, (list, tuple)) else [found]:
            if not isinstance(tool, BaseTool):
                raise ImproperlyConfigured(f"FINTALK_EXTRA_TOOLS: {path} gave {type(tool).__name__}, not a LlamaIndex tool.")
            tools.append(tool)
    return tools


@lru_cache(maxsize=2)
def agent_tool_specs(outbound: bool = False) -> ToolSpecs:
    """The agent's own tools (the bank's, an outbound call's, any extra ones) with their toolSpecs,
    built once per process for each kind of call."""
    tools = build_tools(outbound) + _extra_tools()
    names = [tool.metadata.name for tool in tools]
    duplicates = {name for name in names if names.count(name) > 1}
    if duplicates:
        raise ImproperlyConfigured(f"Two agent tools share the name(s) {', '.join(sorted(duplicates))}.")
    return ToolSpecs([adapt_to_async_tool(tool) for tool in tools])


def agent_tool_names() -> frozenset[str]:
    """Every name the agent's tools use on any call (a client tool may not take one)."""
    return frozenset(agent_tool_specs(outbound=True).by_name)
