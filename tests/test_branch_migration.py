"""The branches migration, on a database with history made before branches existed: every run
and result is kept with its id, the main line's series and pins keep theirs, and the points of
other branches and environments move to series of their own, due for analysis where watched."""

from datetime import UTC, datetime, timedelta

BEFORE = [("evaluations", "0013_result_class_counts")]
AFTER = [("evaluations", "0016_series_keyed_by_branch")]
START = datetime(2026, 1, 1, tzinfo=UTC)


def make_history(apps):
    """fraud-detector: 6 runs on main (3 naming no branch), 2 on a pull request's branch, 1 on
    a release branch, 1 canary run; one accuracy series each on holdout, as stored before."""
    get = apps.get_model
    project = get("evaluations", "Project").objects.create(name="acme")
    model = get("evaluations", "RegisteredModel").objects.create(project=project, name="fraud")
    dataset = get("evaluations", "EvaluationDataset").objects.create(project=project, name="h")
    metric = get("evaluations", "MetricDefinition").objects.create(
        project=project, name="accuracy", direction="higher_is_better"
    )
    series = get("evaluations", "Series").objects.create(
        model=model, dataset=dataset, metric=metric, slice="overall"
    )
    lines = [("", "offline")] * 3 + [("main", "offline")] * 3
    lines += [("feature/x", "offline")] * 2 + [("release/1.0", "offline"), ("main", "canary")]
    results = []
    for index, (branch, environment) in enumerate(lines):
        version = get("evaluations", "ModelVersion").objects.create(model=model, label=f"1.{index}")
        at = START + timedelta(days=index)
        run = get("evaluations", "EvaluationRun").objects.create(
            project=project, model_version=version, dataset=dataset, branch=branch,
            environment=environment, recorded_at=at, payload_digest=str(index),
            commit=f"c{index}",
        )  # fmt: skip
        results.append(
            get("evaluations", "MetricResult").objects.create(
                run=run, series=series, model_version=version, value=0.9, recorded_at=at
            )
        )
    pin = get("evaluations", "BaselinePin").objects.create(
        model=model, dataset_name="h", model_version=results[0].model_version,
        run=results[0].run, pinned_by="ana",
    )  # fmt: skip
    get("evaluations", "Finding").objects.create(
        series=series, kind="drift", status="open", magnitude=-0.01, message="fell"
    )
    return series, pin, results


def test_history_is_split_by_branch_and_environment_in_place(migrator):
    old = migrator.migrate(BEFORE)
    series, pin, results = make_history(old)

    new = migrator.migrate(AFTER)
    Result = new.get_model("evaluations", "MetricResult")
    Series = new.get_model("evaluations", "Series")
    Run = new.get_model("evaluations", "EvaluationRun")

    # Nothing lost, ids kept.
    assert sorted(Result.objects.values_list("pk", flat=True)) == [r.pk for r in results]
    assert Run.objects.count() == 10
    assert set(Run.objects.values_list("branch", flat=True)) == {
        "main", "feature/x", "release/1.0"
    }  # fmt: skip
    assert set(Run.objects.values_list("base_branch", flat=True)) == {"main"}
    # The main line keeps its series (and finding and pin); the others have their own.
    main = Series.objects.get(pk=series.pk)
    assert (main.branch.name, main.environment) == ("main", "offline")
    assert main.results.count() == 6
    assert main.findings.count() == 1
    lines = {
        (s.branch.name, s.environment): (s.results.count(), s.watched, s.dirty)
        for s in Series.objects.exclude(pk=series.pk)
    }
    assert lines == {
        ("feature/x", "offline"): (2, False, False),  # a pull request: not watched
        ("release/1.0", "offline"): (1, True, True),  # long-lived by the default patterns
        ("main", "canary"): (1, True, True),
    }
    assert main.dirty and main.watched  # its history changed: analysed again
    pinned = new.get_model("evaluations", "BaselinePin").objects.get()
    assert (pinned.pk, pinned.branch.name) == (pin.pk, "main")
    branches = new.get_model("evaluations", "Branch").objects
    assert {(b.name, b.long_lived) for b in branches.all()} == {
        ("main", False), ("feature/x", False), ("release/1.0", True)
    }  # fmt: skip


def test_migrating_back_merges_the_lines_again(migrator):
    old = migrator.migrate(BEFORE)
    series, _, results = make_history(old)
    migrator.migrate(AFTER)

    back = migrator.migrate(BEFORE)

    Series = back.get_model("evaluations", "Series")
    assert list(Series.objects.values_list("pk", flat=True)) == [series.pk]
    assert back.get_model("evaluations", "MetricResult").objects.filter(
        series_id=series.pk
    ).count() == len(results)
