"""Histories the tests post, and the API calls that set baselines and rules on them."""

from datetime import UTC, datetime, timedelta

import numpy as np

START = datetime(2026, 1, 1, tzinfo=UTC)
MODEL_API = "/api/v1/models/fraud-detector"


def drifting_history(count=50, seed=4, model="fraud-detector", dataset=None, start=0):
    """``count`` versions: accuracy flat for 30 then slowly falling (a drift the analysis
    finds), f1 on two slices, latency with intervals."""
    rng = np.random.default_rng(seed)
    fall = 0.0006 * np.maximum(0, np.arange(count) - 29)
    accuracy = 0.93 - fall + rng.normal(0, 0.002, count)
    dataset = dataset or {"name": "holdout", "version": "v1"}
    return [
        {"model": model, "version": f"1.{start + i}", "commit": f"c{start + i:07d}",
         "dataset": dataset, "finished_at": (START + timedelta(days=start + i)).isoformat(),
         "metrics": [
             {"name": "accuracy", "value": float(accuracy[i]), "n": 10000},
             {"name": "f1", "value": 0.8 + 0.001 * (i % 3), "slice": "country=DE"},
             {"name": "f1", "value": 0.81, "slice": "country=US"},
             {"name": "latency_p95_ms", "value": 40.0 + i % 2, "ci_low": 39.0, "ci_high": 43.0},
         ]}
        for i in range(count)
    ]  # fmt: skip


def post_batch(api, runs):
    response = api.post("/api/v1/runs/batch/", {"runs": runs}, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def pin_baseline(api, version, dataset="holdout", **extra):
    """Pin ``version`` of fraud-detector as the baseline on ``dataset``."""
    response = api.put(
        f"{MODEL_API}/baseline/", {"dataset": dataset, "version": version, **extra}, format="json"
    )
    assert response.status_code in (200, 201), response.json()
    return response.json()


def add_rule(api, **rule):
    response = api.post(f"{MODEL_API}/thresholds/", rule, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def dated(runs, end):
    """``runs`` re-dated a day apart, the last at ``end``: a history still going on."""
    for i, run in enumerate(runs):
        run["finished_at"] = (end - timedelta(days=len(runs) - 1 - i)).isoformat()
    return runs


def branch_history(branch, count, end, accuracy, prefix="pr", **extra):
    """``count`` runs on ``branch`` (versions ``<prefix>.0`` ...), with drifting_history's
    metrics, accuracy at ``accuracy``, a day apart up to ``end``; commits of their own, so
    that no run on the main line makes the branch look merged."""
    runs = dated(drifting_history(count), end)
    for i, run in enumerate(runs):
        run.update(branch=branch, version=f"{prefix}.{i}", commit=f"{prefix}-{i}", **extra)
        run["metrics"][0]["value"] = accuracy
    return runs
