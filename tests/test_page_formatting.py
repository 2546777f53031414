"""How the pages write what they show: metadata as JSON, gate statuses as words, numbers per
metric with their units, one way of writing a change and how sure a finding is."""

import html as html_lib
import re

import pytest

from evaluations.models import EvaluationRun, Finding
from tests.histories import drifting_history, pin_baseline, post_batch


def run(version, dataset_version, metrics, metadata=None):
    return {
        "model": "fraud-detector", "version": version,
        "dataset": {"name": "holdout", "version": dataset_version},
        "finished_at": f"2026-01-0{version[-1]}T00:00:00Z",
        "metadata": metadata or {}, "metrics": metrics,
    }  # fmt: skip


METRICS = [
    {"name": "accuracy", "value": 0.931234567, "n": 114400},
    {"name": "f1", "value": 0.8512},
    {"name": "latency_p95", "value": 41.23456},
    {"name": "bleu", "value": 27.314159},
]


@pytest.fixture
def judged_runs(api, post_run):
    """1.1 pinned on holdout@v1; 1.2 on holdout@v2 (not comparable); 1.3 on holdout@v1 with
    an f1 that has nothing to test significance with (insufficient)."""
    assert post_run(run("1.1", "v1", METRICS)).status_code == 201
    pinned = api.put(
        "/api/v1/models/fraud-detector/baseline/",
        {"dataset": "holdout", "version": "1.1", "dataset_version": "v1"},
        format="json",
    )
    assert pinned.status_code in (200, 201), pinned.json()
    for rule in ({"metric": "accuracy", "max_drop": 0.01}, {"metric": "f1", "significance": 0.05}):
        response = api.post("/api/v1/models/fraud-detector/thresholds/", rule, format="json")
        assert response.status_code == 201, response.json()
    metadata = {"learning_rate": 0.001, "tags": ["nightly", "gpu"], "note": "naïve"}
    assert post_run(run("1.2", "v2", METRICS, metadata)).status_code == 201
    assert post_run(run("1.3", "v1", METRICS)).status_code == 201
    return {r.model_version.label: r for r in EvaluationRun.objects.select_related("model_version")}


def text_of(response):
    """The page's visible text, tags dropped, entities decoded, spaces collapsed."""
    body = re.sub(r"<(script|style)\b.*?</\1>", "", response.content.decode(), flags=re.S)
    return " ".join(html_lib.unescape(re.sub(r"<[^>]+>", " ", body)).split())


def test_the_run_page_shows_metadata_as_json(member, judged_runs):
    html = member.get(f"/runs/{judged_runs['1.2'].pk}/").content.decode()

    block = re.search(r'<pre class="metadata"><code>(.*?)</code></pre>', html, re.S).group(1)
    assert html_lib.unescape(block) == (
        '{\n  "learning_rate": 0.001,\n  "note": "naïve",\n  "tags": [\n    "nightly",\n'
        '    "gpu"\n  ]\n}'
    )


def test_the_run_page_names_gate_statuses_in_words_with_the_reason(member, judged_runs):
    other_version = text_of(member.get(f"/runs/{judged_runs['1.2'].pk}/"))
    untestable = text_of(member.get(f"/runs/{judged_runs['1.3'].pk}/"))

    assert "not_comparable" not in other_version and "insufficient" not in untestable
    assert re.search(
        r"accuracy overall not comparable accuracy: this run is on holdout@v2", other_version
    )
    assert "f1 overall not enough data to test f1 0.8512 vs baseline" in untestable


def test_the_run_page_formats_each_metric_by_its_kind_and_unit(member, judged_runs):
    page = text_of(member.get(f"/runs/{judged_runs['1.1'].pk}/"))

    assert "accuracy overall 0.9312 114,400" in page  # a rate to four decimals; n a count
    assert "latency_p95 overall 41.2 ms" in page  # a latency with its unit
    assert "bleu overall 27.31" in page  # BLEU on its 0-100 scale
    assert "0.931235" not in page and "41.23456" not in page


@pytest.fixture
def drift(api, django_capture_on_commit_callbacks):
    """The dashboard tests' history: accuracy drifting down after 30 versions, 1.10 pinned."""
    with django_capture_on_commit_callbacks(execute=True):
        post_batch(api, drifting_history())
    pin_baseline(api, "1.10")
    return Finding.objects.select_related("series__metric").get(kind="drift")


def test_a_finding_page_never_says_100_percent_sure_and_writes_its_change_once(member, drift):
    Finding.objects.filter(pk=drift.pk).update(p_value=3e-7, confidence=1 - 3e-7)
    page = text_of(member.get(f"/findings/{drift.pk}/"))

    assert "100%" not in page
    assert "How sure very sure (p < 0.0001)" in page
    # The sentence's relative change and the figure beside it: one rounding, one minus sign.
    (in_sentence,) = re.findall(r"\((\u2212\d+\.\d%)\) over", drift.message)
    assert f"Change \u2212{abs(drift.magnitude):.4f} ({in_sentence})" in page
    assert "(-" not in page


def test_a_finding_e_mail_writes_the_change_and_how_sure_like_its_page(drift):
    from django.template.loader import render_to_string

    Finding.objects.filter(pk=drift.pk).update(p_value=0.003)
    drift.refresh_from_db()
    context = {
        "finding": drift, "series": drift.series, "points": [], "baseline": 0.93,
        "threshold": None, "notification": {"event": "opened", "channel": {"name": "ml"}},
    }  # fmt: skip
    subject = render_to_string("emails/finding_subject.txt", context)
    body = render_to_string("emails/finding_body.txt", context)

    percent = re.search(r"\((\u2212\d+\.\d%)\) over", drift.message).group(1)
    assert subject.strip().endswith(f"\u2212{abs(drift.magnitude):.4f} ({percent})")
    assert f"Change:   \u2212{abs(drift.magnitude):.4f} ({percent})" in body
    assert "How sure: very sure (p = 0.003" in body and "Baseline: 0.9300" in body


def test_model_and_compare_pages_format_values_per_metric(member, drift):
    model = text_of(member.get("/projects/acme/models/fraud-detector/"))
    compare = text_of(member.get("/projects/acme/models/fraud-detector/compare/"))

    assert "latency_p95_ms overall 1.49 41.0 ms 40.0 ms +1.00 ms (worse)" in model
    assert re.search(r"accuracy overall 1\.49 0\.\d{4} 0\.\d{4} \u22120\.\d{4} \(worse\)", model)
    assert re.search(r"accuracy overall 0\.\d{4} 0\.\d{4} \u22120\.\d{4} \u2212\d\.\d% ", compare)
    assert re.search(r"latency_p95_ms overall 40\.0 ms 41\.0 ms \+1\.00 ms \+2\.5% ", compare)
