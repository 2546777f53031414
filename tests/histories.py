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


def post_branched_history(api, now=None):
    """40 versions on main up to yesterday (1.10 pinned, with a rule); a pull request,
    feature/x, three runs whose accuracy fails main's largest drop; release/2, long-lived by
    the default patterns, passing; feature/done, told merged; feature/old, 90 days without a
    run (archived); and main's last five versions evaluated in production too."""
    now = now or datetime.now(UTC)
    main = dated(drifting_history(40), now - timedelta(days=1))
    production = dated(drifting_history(40), now - timedelta(hours=12))[-5:]
    for run in production:
        run["environment"] = "production"
        run["metrics"][0]["value"] -= 0.004
    post_batch(api, main[:11])
    pin_baseline(api, "1.10")
    add_rule(api, metric="accuracy", min=0.9, max_drop=0.01)
    post_batch(api, main[11:])
    post_batch(api, branch_history("feature/x", 3, now - timedelta(hours=2), 0.91, "pr-7"))
    post_batch(api, branch_history("release/2", 2, now - timedelta(hours=3), 0.93, "2.0rc"))
    post_batch(api, branch_history("feature/done", 1, now - timedelta(days=3), 0.93, "pr-5"))
    post_batch(api, branch_history("feature/old", 1, now - timedelta(days=90), 0.93, "pr-1"))
    post_batch(api, production)
    assert api.post(f"{MODEL_API}/branches/feature/done/merge/").status_code == 200
