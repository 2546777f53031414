"""seed_demo: a demo project whose history the analysis really judges, seeded once."""

import io
import json
import statistics
from datetime import datetime

import pytest
from django.core.management import CommandError, call_command

from evaluations.models import (
    BaselinePin,
    ChangeMark,
    EvaluationDataset,
    EvaluationRun,
    Finding,
    MetricResult,
    ModelVersion,
    RegisteredModel,
    ReplicateSet,
    Series,
    ThresholdRule,
)

VERSIONS = 60


def seed(*args):
    out = io.StringIO()
    call_command("seed_demo", "--versions", str(VERSIONS), *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


@pytest.fixture
def seeded(db):
    return seed()


def open_findings(model, metric, slice="overall", dataset_version=None):
    found = Finding.objects.filter(
        series__model__name=model,
        series__metric__name=metric,
        series__slice=slice,
        status=Finding.Status.OPEN,
    )
    if dataset_version is not None:
        found = found.filter(series__dataset__version=dataset_version)
    return sorted(found.values_list("kind", flat=True))


def test_seed_demo_stores_months_of_history_for_four_models(seeded):
    models = ["fraud-classifier", "price-regressor", "ranking-service", "summarizer"]
    assert sorted(RegisteredModel.objects.values_list("name", flat=True)) == models
    for name in models:
        versions = ModelVersion.objects.filter(model__name=name, runs__branch="main").distinct()
        assert versions.count() == VERSIONS
    # fraud-classifier runs on both holdout versions (the newer one for the latest 40)
    # ... and on two pull requests' branches (3 and 2 runs, on the newer holdout); the
    # summarizer's latest 6 versions with two more seeds each
    assert EvaluationRun.objects.count() == 4 * VERSIONS + 40 + 5 + 6 * 2
    datasets = set(EvaluationDataset.objects.values_list("name", "version"))
    assert {("holdout", "2026-06"), ("holdout", "2026-09")} <= datasets
    # main: 5 metrics x 3 slices x 2 holdouts; 3 x 2; 4 x 2; ndcg x 2 + 3 latencies
    main = Series.objects.filter(branch__name="main")
    assert main.count() == 30 + 6 + 8 + 5
    assert Series.objects.exclude(branch__name="main").count() == 2 * 15
    assert MetricResult.objects.count() == (
        VERSIONS * (15 + 6 + 8 + 5) + 40 * 15 + 5 * 15 + 6 * 2 * 8
    )
    # Only the main line is watched, and all of it is analysed.
    assert set(Series.objects.filter(watched=True)) == set(main)
    assert not Series.objects.filter(dirty=True).exists()
    assert not main.filter(analysed_at__isnull=True).exists()
    span = EvaluationRun.objects.order_by("recorded_at")
    assert (span.last().recorded_at - span.first().recorded_at).days > 60
    assert "open findings" in seeded


def test_results_carry_sample_sizes_and_intervals_where_they_make_sense(seeded):
    recall = MetricResult.objects.filter(
        series__metric__name="recall", series__slice="country=DE"
    ).first()
    assert recall.n is not None
    bleu = MetricResult.objects.filter(series__metric__name="bleu").first()
    assert bleu.ci_low < bleu.value < bleu.ci_high
    assert not MetricResult.objects.filter(series__metric__name="f1", n__isnull=False).exists()


def test_the_planted_drift_and_step_open_findings_and_the_noisy_series_none(seeded):
    # On the older holdout recall also fell below its floor of 0.8 (a threshold breach).
    assert open_findings("fraud-classifier", "recall", dataset_version="2026-06") == [
        "drift",
        "threshold",
    ]
    # With 60 versions, where a baseline is pinned the drift and the step have also taken the
    # metric past it (the default demo, of 70 versions, finds the falls alone).
    assert open_findings("fraud-classifier", "recall", dataset_version="2026-09") == [
        "baseline_drop",
        "drift",
    ]
    assert open_findings("price-regressor", "mae") == ["baseline_drop", "step"]
    assert open_findings("price-regressor", "rmse") == ["step"]
    assert open_findings("summarizer", "bleu") == []
    assert open_findings("summarizer", "bleu", slice="length=long") == []
    # the latencies rose at a version marked as an intended change: nothing to report
    assert open_findings("ranking-service", "latency_p95_ms") == []
    assert Finding.objects.count() == 7


def test_baselines_rules_and_the_intended_change_are_set(seeded):
    pin = BaselinePin.objects.get(model__name="fraud-classifier")
    assert (pin.dataset_name, pin.run.dataset.version) == ("holdout", "2026-09")
    assert BaselinePin.objects.filter(model__name="price-regressor").exists()
    assert ThresholdRule.objects.filter(
        model__name="ranking-service", metric="latency_p95_ms", max=60.0
    ).exists()
    assert ThresholdRule.objects.count() == 7
    assert ChangeMark.objects.get().model.name == "ranking-service"


def test_seeding_again_changes_nothing(seeded):
    counts = (EvaluationRun.objects.count(), MetricResult.objects.count(), Finding.objects.count())

    out = seed()

    assert "already has models: nothing seeded" in out
    assert counts == (
        EvaluationRun.objects.count(),
        MetricResult.objects.count(),
        Finding.objects.count(),
    )
    assert BaselinePin.objects.count() == 2


def test_the_same_seed_gives_the_same_values(db):
    seed("--project", "demo-a")
    seed("--project", "demo-b")

    def values(project):
        return list(
            MetricResult.objects.filter(run__project__name=project)
            .order_by(
                "series__model__name",
                "series__metric__name",
                "series__slice",
                "series__dataset__version",
                "recorded_at",
            )
            .values_list("value", flat=True)
        )

    assert values("demo-a") == values("demo-b")


def test_too_few_versions_for_the_planted_changes_is_refused(db):
    with pytest.raises(CommandError, match="at least 40"):
        call_command("seed_demo", "--versions", "20", stdout=io.StringIO())
    assert not RegisteredModel.objects.exists()


def test_no_progress_bar_when_stdout_is_not_a_terminal(seeded):
    assert "\r" not in seeded
    assert seeded.count("\n") == 1


class Terminal(io.StringIO):
    def isatty(self):
        return True


def test_a_terminal_sees_a_progress_bar(db):
    out = Terminal()
    call_command("seed_demo", "--versions", "40", stdout=out, stderr=io.StringIO())

    lines = out.getvalue().split("\r")
    assert len(lines) > 5
    assert "analysing series" in lines[-1]
    assert "100%" in lines[-1]


def test_the_demo_bodies_are_what_the_api_validates_them_to():
    from evaluations.api.serializers import RunInputSerializer
    from evaluations.management.demo import (
        MODELS,
        pull_request_bodies,
        run_bodies,
        version_history,
    )

    for model in MODELS:
        bodies = run_bodies(model, version_history(model, VERSIONS, 1), 1)
        pulls = [body for runs in pull_request_bodies(model, bodies, 1) for body in runs]
        for body in bodies[:3] + pulls:
            posted = json.loads(json.dumps(body, default=datetime.isoformat))  # as CI sends it
            serializer = RunInputSerializer(data=posted)
            assert serializer.is_valid(), serializer.errors
            assert plain(serializer.validated_data) == plain(body)


def plain(value):
    """Dicts and lists as such, every other value with its exact type (a NumPy float is not
    a float to the JSON encoders the service uses)."""
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return (type(value).__name__, value)


def test_every_run_is_judged_when_posted_against_the_baseline_and_rules_of_its_time(seeded):
    assert not EvaluationRun.objects.filter(gate_verdict__isnull=True).exists()
    fraud = EvaluationRun.objects.filter(
        model_version__model__name="fraud-classifier", dataset__version="2026-09"
    ).order_by("recorded_at")
    statuses = [run.gate_verdict["status"] for run in fraud]
    # The rules apply from the first version; the baseline, pinned 30 versions ago, from there.
    assert statuses[-1] in ("passed", "failed")
    assert "no_baseline" not in statuses[-30:]


def test_the_breach_the_latest_runs_leave_is_a_threshold_finding(seeded):
    verdicts = {
        run.dataset.version: run.gate_verdict
        for run in EvaluationRun.objects.filter(model_version__model__name="fraud-classifier")
        .select_related("dataset")
        .order_by("recorded_at")
    }  # the latest run on each dataset version
    failed = [c for c in verdicts["2026-06"]["checks"] if c["status"] == "failed"]
    breached = {(c["metric"], c["slice"]) for c in failed if c["rule"] != "missing"}

    assert ("recall", "overall") in breached
    assert "threshold" in open_findings("fraud-classifier", "recall", dataset_version="2026-06")


def test_the_default_demo_judges_its_rules_together_and_shows_the_floor_breach(db):
    call_command("seed_demo", stdout=io.StringIO(), stderr=io.StringIO())

    # Set one at a time, the rules judged recall by the default test until its own rule came,
    # and opened a finding that the next rule resolved.
    assert not Finding.objects.filter(status=Finding.Status.RESOLVED).exists()
    breach = Finding.objects.get(kind="threshold")
    assert (breach.series.dataset.version, breach.message) == (
        "2026-06",
        "recall 0.7941 < floor 0.8",
    )


def test_the_demo_has_an_online_comparison_of_each_kind(seeded):
    from evaluations.api.experiment_serializers import WindowInputSerializer
    from evaluations.models import Experiment

    experiments = {e.kind: e for e in Experiment.objects.all()}
    assert set(experiments) == {"canary", "shadow", "interleaving", "bandit"}
    assert experiments["canary"].step >= 1  # promoted at least once, as healthy canaries are
    for experiment in experiments.values():
        assert experiment.decisions.count() == experiment.windows.count() >= 1
        for window in experiment.windows.all():  # what the API would have taken
            assert WindowInputSerializer(data=window.body, experiment=experiment).is_valid()


def test_seed_demo_evaluates_the_summarizers_latest_versions_with_three_seeds(seeded):
    """Each of its 8 series has a replicate set on each of the latest 6 versions: the mean of
    the three seeds' values, with their spread."""
    sets = ReplicateSet.objects.filter(series__model__name="summarizer")
    assert sets.count() == 6 * 8
    assert set(sets.values_list("replicates", flat=True)) == {3}
    assert ReplicateSet.objects.exclude(series__model__name="summarizer").count() == 0
    one = sets.filter(series__metric__name="bleu", series__slice="overall").latest("recorded_at")
    values = list(
        MetricResult.objects.filter(series=one.series, model_version=one.model_version).values_list(
            "value", flat=True
        )
    )
    assert len(values) == 3 and one.value == pytest.approx(sum(values) / 3)
    assert one.sd == pytest.approx(statistics.stdev(values))
    # Seeds scatter as much as versions do: the sets raise nothing.
    assert open_findings("summarizer", "bleu") == []
