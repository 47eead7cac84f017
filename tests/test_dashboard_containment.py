"""Containment counts the voice calls someone answered, on the console's dashboard as staff see it:
API test requests and outbound calls nobody picked up are left out (they used to drag it down)."""
from datetime import timedelta

import pytest
from django.utils import timezone

from calls.models import Call
from calls.selectors import dashboard


def calls(*kinds):
    now = timezone.now() - timedelta(hours=1)
    for index, (kind, outcome) in enumerate(kinds):
        Call.objects.create(call_id=f"call-{index}", type=kind, outcome=outcome, started_at=now)


@pytest.mark.django_db
def test_containment_is_resolved_among_answered_voice_calls(admin_client):
    calls(("inbound", "resolved"), ("inbound", "resolved"), ("web", "handed_over"), ("outbound", "resolved"),
          ("api", "failed"), ("api", "failed"), ("api", "resolved"), ("outbound", "abandoned"), ("outbound", "abandoned"))
    figures = dashboard(days=1)
    assert figures.containment == 0.75 and figures.calls == 9  # 3 of 4 answered voice calls; all 9 counted as calls
    assert 75.0 in [share for _, share in figures.containment_per_day]
    page = admin_client.get("/console/").content.decode()
    assert '<text x="20" y="22" class="big">75%</text>' in page and "the voice calls someone answered" in page
    assert dashboard(days=1, call_type="api").containment is None  # API requests alone: no containment at all
