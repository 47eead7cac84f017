"""The demo bank as `manage.py seed_demo` makes it, and running one of the agent's tools directly."""
import asyncio

from asgiref.sync import sync_to_async
from django.db import connections

from agent.context import TurnContext, current_turn

# The demo customers' phones (bank/demo_data.py): Jane Doe holds a Visa ending
# 4242; John Smith a Mastercard 5454 and a Visa 1881. Nobody has UNKNOWN.
JANE = "+15550100001"
JOHN = "+15550100002"
UNKNOWN = "+15550199999"


def run_tool(tool_fn, phone=None, **kwargs):
    """Call one of agent.tools' functions as the loop does, inside a turn for `phone`; its text and
    the (tool, outcome) pairs the turn's meter recorded. Closes the database connections the tool
    opened in its thread, so the test database can be flushed after."""
    context = TurnContext(phone=phone, request_id="req-tools")

    async def call():
        current_turn.set(context)
        try:
            return await tool_fn(**kwargs)
        finally:
            await sync_to_async(connections.close_all)()

    return asyncio.run(call()), context.meter.tool_calls
