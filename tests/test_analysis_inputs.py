"""What an analysis job reads: each series' latest points, the same on PostgreSQL (off the end of
the history index) as ranked over the whole history, ties in time broken by run."""

from datetime import UTC, datetime, timedelta

import pytest

from evaluations.models import Series
from evaluations.selectors import analysis

START = datetime(2026, 1, 1, tzinfo=UTC)


def body(version, value, at):
    return {"model": "inputs", "version": version, "finished_at": at.isoformat(),
            "dataset": {"name": "holdout", "version": "v1"},
            "metrics": [{"name": "accuracy", "value": value, "n": 1000},
                        {"name": "accuracy", "value": value / 2, "slice": "mobile"}]}  # fmt: skip


@pytest.mark.postgres
def test_the_latest_points_are_those_of_the_whole_history_ranked(api):
    for index in range(40):
        # Pairs of runs share a time: their order is their runs'.
        at = START + timedelta(days=index // 2)
        response = api.post("/api/v1/runs/", body(f"1.{index}", 0.5 + index / 100, at),
                            format="json")  # fmt: skip
        assert response.status_code == 201, response.json()
    inputs = {pk: None for pk in Series.objects.values_list("pk", flat=True)}

    for points in (1, 7, 25, 40, 100):
        latest = analysis._latest_points(inputs, points)
        assert latest == list(analysis._ranked_points(inputs, points))
        assert len(latest) == 2 * min(points, 40)
    newest = {}
    for series_id, _version, _run, _at, value, *_ in analysis._latest_points(inputs, 3):
        newest.setdefault(series_id, []).append(value)
    assert sorted(newest.values()) == [[0.435, 0.44, 0.445], [0.87, 0.88, 0.89]]
