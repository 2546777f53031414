"""Posting evaluation runs: the one way every post goes, from the run API, the batch API and
the demo alike. The runs are stored (one transaction; their series' analysis is scheduled when
it commits), then each is judged by the regression gate and its verdict stored with it, and the
threshold breaches the runs leave become findings, with their alerts.

The bodies come validated (``api.serializers.RunInputSerializer``'s shape, which the demo
builds directly).
"""

from dataclasses import dataclass

from evaluations.models import EvaluationRun
from evaluations.services import gate, ingest


@dataclass
class PostOutcome:
    run: EvaluationRun
    created: bool  # False: a replay of a stored run (same external_id and body)
    verdict: dict  # the gate's verdict, as services.gate.verdict_data shapes it


def post_run(*, project, payload) -> PostOutcome:
    """Store, judge and record one validated run body."""
    return post_runs(project=project, payloads=[payload])[0]


def post_runs(*, project, payloads) -> list[PostOutcome]:
    """Store validated run bodies (all or none), then judge each in the order posted; a
    series' threshold finding follows the latest of them (``findings.breach_states``)."""
    stored = ingest.ingest_runs(project=project, payloads=payloads)
    verdicts = gate.judge_runs(runs=[outcome.run for outcome in stored])
    return [
        PostOutcome(run=outcome.run, created=outcome.created, verdict=verdict)
        for outcome, verdict in zip(stored, verdicts, strict=True)
    ]
