"""The demo bank as `manage.py seed_demo` makes it, and running one of the agent's tools directly."""
import asyncio

from asgiref.sync import sync_to_async
from django.db import connections

from agent.context import TurnContext, current_turn
from agent.tools.base import run_action
from bank.actions import REGISTRY

# The demo customers' phones (bank/demo_data.py): Jane Doe holds a Visa ending
# 4242; John Smith a Mastercard 5454 and a Visa 1881. Nobody has UNKNOWN.
JANE = "+15550100001"
JOHN = "+15550100002"
UNKNOWN = "+15550199999"


def run_tool(action: str, phone=None, *, context: TurnContext | None = None, **kwargs):
    """Run a declared bank action (bank.actions) as the agent's tool does, inside a turn for `phone`
    (or `context`); its text and the (tool, outcome) pairs the turn's meter recorded. Closes the
    database connections the tool opened in its threads, so the test database can be flushed after."""
    context = context or TurnContext(phone=phone, request_id="req-tools")

    async def call():
        current_turn.set(context)
        try:
            return await run_action(REGISTRY[action], kwargs)
        finally:
            await sync_to_async(connections.close_all)()
            await sync_to_async(connections.close_all, thread_sensitive=False)()

    return asyncio.run(call()), context.meter.tool_calls
