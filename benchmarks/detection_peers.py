"""The change-point detectors the analysis is measured against, each run on every prefix of
each series as the service runs the analysis: Apache Otava's ``compute_change_points`` (the
E-Divisive means method of MongoDB's and DataStax's performance CI, with its defaults:
``window_len=50``, ``max_pvalue=0.001``); ruptures' PELT (Killick et al. 2012) on a change in
mean (the ``l2`` cost, as ``KernelCPD`` with the linear kernel computes it) with a BIC
penalty, 2 sigma^2 log n per change, sigma from the MAD of the first differences; and a
self-starting one-sided CUSUM (Hawkins 1987: each point standardised by the mean and standard
deviation of the points before it; reference value k = 0.5 and decision interval h = 5
sigma, the textbook design for a 1 sigma shift, Montgomery 2009, sec. 9.1).

Otava and ruptures are benchmark-only dependencies: this module runs in ``.bench-venv`` (``make
bench-venv``, ``requirements-bench.txt``), as a subprocess of ``benchmarks/detection.py``,
which writes it the series (oriented, worse down) as JSON and reads back, per detector and
series, the prefixes that alarmed:

    .bench-venv/bin/python -m benchmarks.detection_peers series.json alarms.json

A peer alarms on a prefix when the last change point it reports there is a fall (the mean
after below the mean before): the same question the analysis answers, "has the level fallen,
and is it still down?". The CUSUM alarms while its statistic is above h.
"""

import json
import sys
from concurrent.futures import ProcessPoolExecutor

import numpy as np

MIN_POINTS = 8
PEERS = ("otava", "pelt_bic", "cusum")
CUSUM_K, CUSUM_H = 0.5, 5.0


def otava_falls(y: np.ndarray) -> bool:
    from otava.analysis import compute_change_points

    points, _ = compute_change_points([float(v) for v in y])
    return bool(points) and points[-1].stats.mean_2 < points[-1].stats.mean_1


def pelt_falls(y: np.ndarray) -> bool:
    import ruptures

    diffs = np.diff(y)
    sigma = 1.4826 * np.median(np.abs(diffs - np.median(diffs))) / np.sqrt(2.0)
    if sigma <= 0:
        return False
    # PELT with the linear kernel is PELT on the l2 cost (the segments' sums of squared
    # deviations), in ruptures' C implementation
    ends = (
        ruptures.KernelCPD(kernel="linear", min_size=2)
        .fit(y)
        .predict(pen=2.0 * sigma**2 * np.log(y.size))
    )
    if len(ends) < 2:
        return False
    last, before = ends[-2], ([0, *ends])[-3]
    return float(np.mean(y[last:])) < float(np.mean(y[before:last]))


def cusum_flags(y: np.ndarray) -> np.ndarray:
    """Self-starting lower CUSUM: one pass is every prefix's verdict at once."""
    flags = np.zeros(y.size, dtype=bool)
    statistic = 0.0
    for index in range(3, y.size):
        past = y[:index]
        scale = float(np.std(past, ddof=1)) * np.sqrt(1.0 + 1.0 / index)
        if scale <= 0:
            continue
        z = (y[index] - float(np.mean(past))) / scale
        statistic = max(0.0, statistic - z - CUSUM_K)
        flags[index] = statistic > CUSUM_H
    flags[: MIN_POINTS - 1] = False
    return flags


def alarms(y: list[float]) -> dict[str, list[int]]:
    """Per peer, the indices of the prefixes' last points whose verdict is an alarm."""
    y = np.asarray(y, dtype=float)
    found = {name: [] for name in PEERS}
    for end in range(MIN_POINTS, y.size + 1):
        prefix = y[:end]
        if otava_falls(prefix):
            found["otava"].append(end - 1)
        if pelt_falls(prefix):
            found["pelt_bic"].append(end - 1)
    found["cusum"] = np.flatnonzero(cusum_flags(y)).tolist()
    return found


def main() -> int:
    source, target = sys.argv[1:3]
    workers = int(sys.argv[3]) if len(sys.argv) > 3 else 2
    with open(source) as handle:
        series = json.load(handle)
    with ProcessPoolExecutor(max_workers=workers) as pool:
        results = list(pool.map(alarms, series, chunksize=4))
    with open(target, "w") as handle:
        json.dump(results, handle)
    return 0


if __name__ == "__main__":
    sys.exit(main())
