"""Bodies of online comparisons for the tests: a canary with guardrails, its windows of
aggregates, and posting them through the API."""

import numpy as np

CANARY = {
    "name": "fraud 1.5 canary", "model": "fraud-detector", "kind": "canary",
    "control": "1.4.0", "candidates": ["1.5.0"],
    "primary_metric": {"name": "approval_rate", "type": "proportion",
                       "direction": "higher_is_better", "max_degradation": 0.01},
    "guardrails": [{"name": "error_rate", "type": "proportion", "direction": "lower_is_better",
                    "max_degradation": 0.002},
                   {"name": "latency_ms", "type": "mean", "direction": "lower_is_better",
                    "max_degradation": 5.0}],
    "traffic_steps": [5, 25, 50, 100],
}  # fmt: skip


def create(api, body):
    response = api.post("/api/v1/experiments/", body, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def canary_window(index, share, *, error_rate=0.01, units=20_000, seed=0, **extra):
    """One window: ``share`` of ``units`` to the candidate, approvals alike, the candidate's
    errors at ``error_rate``, latency alike."""
    rng = np.random.default_rng([seed, index])
    arms = {}
    for label, n, errors in (("1.4.0", round(units * (1 - share)), 0.01),
                             ("1.5.0", round(units * share), error_rate)):  # fmt: skip
        latency = rng.normal(100, 10, n)
        arms[label] = {"n": n, "metrics": {
            "approval_rate": {"successes": int(rng.binomial(n, 0.8))},
            "error_rate": {"successes": int(rng.binomial(n, errors))},
            "latency_ms": {"sum": float(latency.sum()), "sum_sq": float((latency**2).sum())},
        }}  # fmt: skip
    return {"window_id": f"w{index}", "start": f"2026-12-06T{index % 24:02d}:00:00Z",
            "end": f"2026-12-06T{index % 24:02d}:15:00Z", "arms": arms, **extra}  # fmt: skip


def post_window(api, experiment, window):
    return api.post(f"/api/v1/experiments/{experiment['id']}/windows/", window, format="json")
