"""Scripting the project's Bedrock stand-in (tests/bedrock_standin.py) before each turn, so that the
scenarios run over the Bedrock path in CI: the stand-in calls the tools a turn's `model:` names,
then says their results, as a model that follows the instructions would.

Over HTTP (`POST {url}/_standin/script`), because the stand-in runs in another process.
"""
import httpx

from rehearse.scenario import ModelRound


def replies(rounds: list[ModelRound]) -> list[dict]:
    """One reply per round (its words first, then its tool calls); after a round that calls tools,
    one more that says their results."""
    scripted = [{"text": round_.say or "",
                 "tool_uses": [{"name": name, "input": arguments} for name, arguments in round_.tools]}
                for round_ in rounds]
    if not rounds or rounds[-1].tools:
        scripted.append({"echo_tool_results": True})  # says what the tools answered (or a short default)
    return scripted


def script(url: str, rounds: list[ModelRound]) -> None:
    response = httpx.post(url.rstrip("/") + "/_standin/script", json={"reset": True, "replies": replies(rounds)},
                          timeout=10)
    response.raise_for_status()
