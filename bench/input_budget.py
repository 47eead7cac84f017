"""What FINTALK_MAX_INPUT_TOKENS costs a realistic call, computed from token counts (no server, no
model): `python -m bench.input_budget`. The call's shape is below; the tokens are the server's own
estimate (agent.converse.estimate_tokens: one per four characters). BENCHMARKS.md quotes its output."""

INSTRUCTIONS, TOOL_SPECS = 1900, 1672  # our prompt ~930 + a Vapi assistant prompt ~970; 14 tools' specs (every call)
USER, ANSWER, FRAME = 25, 45, 4  # tokens per caller turn, per answer, per message's framing
TOOL_TURNS = set(range(2, 30, 4))  # 8 of 30 turns call a bank tool: a second model call
TOOL_EXCHANGE = 48 + 128 + 2 * FRAME  # the tool call and its result, kept in the history
PRICES = {"Nova Lite": 0.06, "Claude 3.5 Haiku": 0.8}  # USD per million input tokens (settings.BEDROCK_PRICES)


def call(budget: int, long_turn: int | None = None, turns: int = 30) -> dict:
    history = total = calls = trimmed = 0
    for turn in range(turns):
        query = USER + FRAME + (2000 if turn == long_turn else 0)  # an 8 KB utterance is ~2,000 tokens
        sent = min(history, budget - INSTRUCTIONS - query)
        trimmed += sent < history
        total += INSTRUCTIONS + sent + query + TOOL_SPECS
        calls += 1
        if turn in TOOL_TURNS:
            total += INSTRUCTIONS + sent + query + TOOL_EXCHANGE + TOOL_SPECS
            calls += 1
            history += TOOL_EXCHANGE
        history += query + ANSWER + FRAME
    return {"history": history + INSTRUCTIONS, "trimmed": trimmed, "tokens": total, "calls": calls,
            **{name: round(total * price / 1e6, 4) for name, price in PRICES.items()}}


if __name__ == "__main__":
    for budget, long_turn in ((4000, None), (12000, None), (12000, 20)):
        print(budget, long_turn, call(budget, long_turn))
