"""A rehearsal run and each scenario attempt in it, as the console shows them.

What was rehearsed (the model, a hash of the instructions, the server), and per attempt: pass or
fail, every expectation with its message, the masked transcript with the tools per turn, and the
time to first word per turn. Nothing here points at the bank's rows: a rehearsal usually talks to a
server with a bank of its own.
"""
from django.db import models


class Run(models.Model):
    started_at = models.DateTimeField(db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    model = models.CharField(max_length=200, help_text="The model the server answered with (or 'external').")
    instruction_hash = models.CharField(max_length=64, blank=True)
    server = models.CharField(max_length=200, blank=True, help_text="'own' or the URL of the server rehearsed.")
    caller_model = models.CharField(max_length=200, blank=True)
    judge_model = models.CharField(max_length=200, blank=True)
    repeat = models.PositiveIntegerField(default=1)
    attempts = models.PositiveIntegerField(default=0)
    passed = models.PositiveIntegerField(default=0)
    label = models.CharField(max_length=200, blank=True, help_text="What was being tried (--label).")

    class Meta:
        ordering = ["-started_at", "-id"]
        permissions = [("make_scenario", "Can make a scenario from a recorded call")]

    def __str__(self):
        return f"run {self.pk} · {self.model}"

    @property
    def pass_rate(self) -> float:
        return 100 * self.passed / self.attempts if self.attempts else 0.0


class Result(models.Model):
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="results")
    scenario = models.CharField(max_length=200, db_index=True)
    flow = models.CharField(max_length=50, blank=True)
    path = models.CharField(max_length=500, blank=True)
    attempt = models.PositiveIntegerField(default=1)
    passed = models.BooleanField()
    call_id = models.CharField(max_length=128, blank=True)
    error = models.TextField(blank=True)
    checks = models.JSONField(default=list, help_text='[{"name", "passed", "message"}]')
    transcript = models.JSONField(default=list, help_text="Per turn: caller, agent (masked), tools, first_word_ms.")
    first_word_ms = models.JSONField(default=list)
    seconds = models.FloatField(default=0)

    class Meta:
        ordering = ["scenario", "attempt", "id"]

    def __str__(self):
        return f"{self.scenario} [{self.attempt}]"

    @property
    def failed_checks(self) -> list[dict]:
        return [check for check in self.checks if not check["passed"]]
