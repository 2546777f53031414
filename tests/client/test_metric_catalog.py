"""Directions and kinds for metrics seen the first time."""

import pytest

from trackerclient.metric_catalog import HIGHER, LOWER, defaults_for


@pytest.mark.parametrize(
    ("name", "direction", "kind"),
    [
        ("accuracy", HIGHER, "classification"),
        ("auc_roc", HIGHER, "classification"),
        ("mae", LOWER, "regression"),
        ("r2", HIGHER, "regression"),
        ("perplexity", LOWER, "nlp"),
        ("bertscore_f1", HIGHER, "nlp"),
        ("latency_p99", LOWER, "latency"),
        ("latency_p95_ms", LOWER, "latency"),
        ("val_loss", LOWER, "other"),
        ("eval-rmse", LOWER, "regression"),
        ("test_error_rate", LOWER, "other"),
        ("rouge_lsum", HIGHER, "nlp"),
        ("wer", LOWER, "nlp"),
        ("macro_f1", HIGHER, "classification"),
        ("toxicity_free_rate", HIGHER, "other"),
    ],
)
def test_defaults_for_known_and_new_names(name, direction, kind):
    defaults = defaults_for(name)

    assert (defaults.direction, defaults.kind) == (direction, kind)


def test_unit_follows_a_time_suffix():
    assert defaults_for("latency_p95_ms").unit == "ms"
    assert defaults_for("inference_seconds").unit == "s"
    assert defaults_for("accuracy").unit == ""
