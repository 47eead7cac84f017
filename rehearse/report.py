"""What a rehearsal says when it is done: a summary for a person, JUnit XML for CI.

The summary lists each scenario's pass rate over its attempts and the time to first word (median
and worst), then every failed expectation with what was found. JUnit has one testcase per scenario
and attempt (`name [2/5]`), a failure per attempt that failed, and the transcript as system-out.
"""
import statistics
from collections import defaultdict
from xml.etree import ElementTree as ET


def by_scenario(attempts) -> dict:
    grouped = defaultdict(list)
    for attempt in attempts:
        grouped[attempt.scenario.name].append(attempt)
    return grouped


def summary(attempts, *, model: str, instructions: str, seconds: float, verbose: bool = True) -> str:
    lines = [f"Rehearsal of {model} (instructions {instructions}): {len(by_scenario(attempts))} scenarios, "
             f"{len(attempts)} calls in {seconds:.1f} s", ""]
    width = max((len(name) for name in by_scenario(attempts)), default=10)
    for name, runs in by_scenario(attempts).items():
        passed = sum(a.passed for a in runs)
        firsts = [ms for a in runs for ms in a.first_word_ms]
        timing = f"first word p50 {statistics.median(firsts):.0f} ms, max {max(firsts):.0f} ms" if firsts else ""
        mark = "PASS" if passed == len(runs) else "FAIL"
        lines.append(f"  {mark}  {name:<{width}}  {passed}/{len(runs)} ({100 * passed / len(runs):.0f}%)  {timing}")
    failed = [a for a in attempts if not a.passed]
    if failed:
        lines += ["", "Failures:"]
        for attempt in failed:
            lines.append(f"  {attempt.scenario.name} [{attempt.number}] ({attempt.scenario.path}, call {attempt.call_id})")
            lines += [f"    {line}" for line in failure_lines(attempt)]
            if verbose:
                lines += [f"      | {line}" for line in transcript_text(attempt).splitlines()]
    total = sum(a.passed for a in attempts)
    tokens_in, tokens_out = sum(a.tokens[0] for a in attempts), sum(a.tokens[1] for a in attempts)
    cost = sum(a.cost_usd for a in attempts)
    lines += ["", f"Model tokens (from the call records): {tokens_in:,} in, {tokens_out:,} out"
              + (f", ${cost:.4f}" if cost else "") + (f"; {tokens_in // len(attempts):,} in per call" if attempts else "")]
    lines += [f"{total}/{len(attempts)} calls passed; "
              f"{sum(all(a.passed for a in runs) for runs in by_scenario(attempts).values())}/"
              f"{len(by_scenario(attempts))} scenarios passed every time."]
    return "\n".join(lines)


def failure_lines(attempt) -> list[str]:
    lines = [f"error: {attempt.error}"] if attempt.error else []
    lines += [f"{check.name}: {check.message}" for check in attempt.failures]
    return lines


def transcript_text(attempt) -> str:
    lines = []
    for number, turn in enumerate(attempt.transcript, start=1):
        if turn["caller"] is not None:
            lines.append(f"{number}. caller: {turn['caller']}")
        tools = ", ".join(f"{t['tool']} -> {t['outcome']}" for t in turn.get("tools") or [])
        client = ", ".join(t["name"] for t in turn.get("client_tools") or [])
        first = f"{turn['first_word_ms']:.0f} ms" if turn["first_word_ms"] is not None else "no words"
        lines.append(f"{number}. agent ({first}{'; ' + tools if tools else ''}{'; ' + client if client else ''}): "
                     f"{turn['agent']}")
    return "\n".join(lines)


def junit(attempts, path, *, model: str) -> None:
    suite = ET.Element("testsuite", name=f"rehearsal {model}", tests=str(len(attempts)),
                       failures=str(sum(not a.passed for a in attempts)), errors="0",
                       time=f"{sum(a.seconds for a in attempts):.3f}")
    for attempt in attempts:
        case = ET.SubElement(suite, "testcase", classname=f"scenarios.{attempt.scenario.flow}",
                             name=f"{attempt.scenario.name} [{attempt.number}]", time=f"{attempt.seconds:.3f}",
                             file=str(attempt.scenario.path))
        if not attempt.passed:
            lines = failure_lines(attempt)
            failure = ET.SubElement(case, "failure", message=lines[0] if lines else "failed")
            failure.text = "\n".join(lines)
        ET.SubElement(case, "system-out").text = transcript_text(attempt)
    root = ET.Element("testsuites")
    root.append(suite)
    ET.indent(root)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)
