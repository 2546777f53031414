"""Built-in metric definitions, the rule that guesses a new metric's direction, and which
significance test fits each metric.

A metric seen for the first time takes its direction from the posted body, else from the
catalogue below, else from its name: losses, errors, latencies and perplexity are lower-is-
better, everything else higher-is-better.

The gate's significance test depends on what the metric is, not on its range (``test_for``):
only a proportion of ``n`` independent examples (accuracy, error rate; precision over the
predicted positives, recall over the actual positives) may be judged by a two-proportion
z-test or, with per-example outcomes, McNemar's test. AUC-ROC is judged by Hanley-McNeil's
standard error when the numbers of positives and negatives are known. Every other metric, and
every metric the catalogue does not know, only by the standard errors its posted 95% intervals
imply: F1, BLEU, ROUGE, NDCG, perplexity, errors and latencies have no variance that ``n``
alone determines.
"""

import re
from dataclasses import dataclass

HIGHER = "higher_is_better"
LOWER = "lower_is_better"


# Which significance tests a metric admits (see the module docstring).
PROPORTION = "proportion"  # McNemar on outcomes, two-proportion z-test on n, or intervals
AUC = "auc"  # Hanley-McNeil from positives and negatives, or intervals
INTERVAL_ONLY = "interval_only"  # only the posted 95% intervals


@dataclass(frozen=True)
class MetricDefaults:
    kind: str
    direction: str
    unit: str = ""
    test: str = INTERVAL_ONLY


BUILT_IN = {
    "accuracy": MetricDefaults("classification", HIGHER, test=PROPORTION),
    "balanced_accuracy": MetricDefaults("classification", HIGHER),
    "precision": MetricDefaults("classification", HIGHER, test=PROPORTION),
    "recall": MetricDefaults("classification", HIGHER, test=PROPORTION),
    "f1": MetricDefaults("classification", HIGHER),
    "auc_roc": MetricDefaults("classification", HIGHER, test=AUC),
    "error_rate": MetricDefaults("classification", LOWER, test=PROPORTION),
    "auc_pr": MetricDefaults("classification", HIGHER),
    "log_loss": MetricDefaults("classification", LOWER),
    "mae": MetricDefaults("regression", LOWER),
    "mse": MetricDefaults("regression", LOWER),
    "rmse": MetricDefaults("regression", LOWER),
    "mape": MetricDefaults("regression", LOWER),
    "r2": MetricDefaults("regression", HIGHER),
    "bleu": MetricDefaults("nlp", HIGHER),
    "rouge1": MetricDefaults("nlp", HIGHER),
    "rouge2": MetricDefaults("nlp", HIGHER),
    "rougeL": MetricDefaults("nlp", HIGHER),
    "rouge_l": MetricDefaults("nlp", HIGHER),
    "perplexity": MetricDefaults("nlp", LOWER),
    "bertscore_precision": MetricDefaults("nlp", HIGHER),
    "bertscore_recall": MetricDefaults("nlp", HIGHER),
    "bertscore_f1": MetricDefaults("nlp", HIGHER),
    "latency_p50": MetricDefaults("latency", LOWER, "ms"),
    "latency_p95": MetricDefaults("latency", LOWER, "ms"),
    "latency_p99": MetricDefaults("latency", LOWER, "ms"),
}

_LOWER_IS_BETTER = re.compile(
    r"\b(loss|logloss|error|latency|mae|mse|rmse|mape|perplexity|wer|cer|ms|seconds)\b"
)
_KIND_RULES = (
    (re.compile(r"\b(latency|ms|seconds|throughput|qps)\b"), "latency"),
    (re.compile(r"\b(bleu|rouge\w*|bertscore\w*|perplexity|meteor|chrf|wer|cer)\b"), "nlp"),
    (re.compile(r"\b(mae|mse|rmse|mape|r2|r_squared)\b"), "regression"),
    (re.compile(r"\b(accuracy|precision|recall|f1|auc|auc_roc|logloss)\b"), "classification"),
)


def defaults_for(name: str) -> MetricDefaults:
    """Kind, direction and unit for a metric name never seen before in a project."""
    if name in BUILT_IN:
        return BUILT_IN[name]
    words = _words(name)
    direction = LOWER if _LOWER_IS_BETTER.search(words) else HIGHER
    kind = next((kind for rule, kind in _KIND_RULES if rule.search(words)), "other")
    unit = "ms" if words.endswith(" ms") else ("s" if words.endswith(" seconds") else "")
    return MetricDefaults(kind, direction, unit)


def _words(name: str) -> str:
    # Separators become spaces so that "val_mae" and "eval-rmse" match like "mae".
    return re.sub(r"[^a-z0-9]+", " ", name.lower())


def test_for(name: str) -> str:
    """The significance tests ``name`` admits: PROPORTION and AUC only when the catalogue
    declares the metric so, INTERVAL_ONLY otherwise (a name that merely looks like a rate is
    never given a proportion test)."""
    return BUILT_IN[name].test if name in BUILT_IN else INTERVAL_ONLY
