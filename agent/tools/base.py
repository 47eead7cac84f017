"""How a declared bank action (bank.actions) runs as the agent's tool: the call's session from the
turn, the action performed in a worker thread (its level checked first, by the bank), its outcome
counted for the metrics, and its words returned for the model to speak. Nothing here knows a single
action: everything an action needs is in its declaration."""
from asgiref.sync import sync_to_async

from agent.context import TurnContext, current_turn_context
from bank.actions import Action, perform
from bank.actions.declare import REFUSED
from bank.verification import VERIFIED, CallSession

# Vapi's tool that transfers the call (an assistant's client tool, streamed back to Vapi).
TRANSFER_CALL = "transferCall"


def call_session(context: TurnContext) -> CallSession:
    """The bank's view of the call, from the turn (the platform's words, never the model's)."""
    return CallSession(context.phone, context.call_id, context.request_id, turn=context.turn, actor=context.actor,
                       outbound=context.outbound, can_transfer=TRANSFER_CALL in context.client_tools,
                       verstat=context.verstat)


def record(tool: str, outcome: str) -> None:
    current_turn_context().meter.tool_calls.append((tool, outcome))


async def run_action(declared: Action, arguments: dict) -> str:
    context = current_turn_context()
    for name in declared.secrets:  # never sent to the model again (agent.loop scrubs them)
        if arguments.get(name):
            context.facts.secrets.append(str(arguments[name]))
    # Reads run beside the round's other tools; writes keep Django's one thread for sync code.
    done = await sync_to_async(perform, thread_sensitive=not declared.reads)(declared, call_session(context), arguments)
    record(declared.name, done.outcome)
    refused = done.outcome in REFUSED and done.outcome not in declared.outcomes
    if declared.outcome(done.outcome).verifies or (not refused and (declared.level or 0) >= VERIFIED):
        context.facts.verification_level = VERIFIED
    if declared.hands_over:
        context.facts.handoff_reason = done.facts.get("reason") or "caller asked for a person"
    return declared.says(done)
