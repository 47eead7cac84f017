"""Keeping a rehearsal's results in the runner's database (the console's), masked as call records
are: a rehearsal against a staging server may hear real customers' data."""
from django.db import transaction
from django.utils import timezone

from calls.masking import mask_json, mask_transcript
from rehearse.models import Result, Run


def masked_transcript(transcript: list[dict]) -> list[dict]:
    return [{**turn, "caller": mask_transcript(turn["caller"]) if turn["caller"] is not None else None,
             "agent": mask_transcript(turn["agent"]), "client_tools": mask_json(turn.get("client_tools") or [])}
            for turn in transcript]


@transaction.atomic
def save(attempts, *, started_at, model: str, instruction_hash: str, server: str, repeat: int,
         caller_model: str = "", judge_model: str = "", label: str = "") -> Run:
    run = Run.objects.create(started_at=started_at, finished_at=timezone.now(), model=model[:200],
                             instruction_hash=instruction_hash, server=server[:200], repeat=repeat,
                             caller_model=caller_model, judge_model=judge_model, label=label[:200],
                             attempts=len(attempts), passed=sum(a.passed for a in attempts))
    Result.objects.bulk_create(Result(
        run=run, scenario=a.scenario.name, flow=a.scenario.flow, path=str(a.scenario.path), attempt=a.number,
        passed=a.passed, call_id=a.call_id, error=mask_transcript(a.error),
        checks=[{**c.as_dict(), "message": mask_transcript(c.message)} for c in a.checks],
        transcript=masked_transcript(a.transcript), first_word_ms=[round(ms, 1) for ms in a.first_word_ms],
        seconds=round(a.seconds, 3)) for a in attempts)
    return run
