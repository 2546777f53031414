"""Retention: ``manage.py prune`` says what it would remove, writes what it removes to a CSV or
Parquet file before removing anything, removes exactly that, in batches, and never the runs
the regression gate reads; pages still answer afterwards."""

import csv
import errno
import io
import os
import tracemalloc
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from evaluations import downloads
from evaluations.models import (
    BaselinePin,
    EvaluationRun,
    MetricResult,
    ModelVersion,
    Series,
)
from evaluations.services import findings, projects, retention, series_analysis
from tests.histories import MODEL_API, START, drifting_history, pin_baseline, post_batch

# Versions 1.0 .. 1.29 ran before it (a day apart from START), 1.30 .. 1.49 after.
CUTOFF = START + timedelta(days=30)
BEFORE = f"{CUTOFF:%Y-%m-%d}"
SERIES = f"{MODEL_API}/series/?metric=accuracy&dataset=holdout"


def prune(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command("prune", "--before", BEFORE, *args, stdout=out, stderr=err)
    return out.getvalue()


@pytest.fixture
def history(api, other_api):
    """acme's fraud-detector: 1.0 .. 1.49 on holdout a day apart (recall on 1.3 only: a series
    pruning leaves empty), a canary run of 1.5, an earlier second run of 1.10; baselines 1.2
    then 1.5 (the pins' history) and an intended-change mark on 1.10. globex: three runs as
    old as acme's first."""
    runs = drifting_history(50)
    runs[3]["metrics"].append({"name": "recall", "value": 0.7})
    canary = {**runs[5], "environment": "canary",
              "finished_at": (START + timedelta(days=5, hours=-1)).isoformat()}  # fmt: skip
    rerun = {**runs[10], "finished_at": (START + timedelta(days=9)).isoformat()}
    post_batch(api, [*runs, canary, rerun])
    pin_baseline(api, "1.2")
    pin_baseline(api, "1.5")
    mark = {"version": "1.10", "note": "expected: new tokenizer"}
    assert api.post(f"{MODEL_API}/marks/", mark, format="json").status_code == 201
    post_batch(other_api, drifting_history(3))


def acme_runs():
    return EvaluationRun.objects.filter(project__name="acme")


def run_of(label, environment="offline"):
    """The latest run of ``label`` (of acme's fraud-detector)."""
    return (
        acme_runs()
        .filter(model_version__label=label, environment=environment)
        .order_by("-recorded_at")
        .first()
    )


def run_ids(runs):
    return set(runs.values_list("pk", flat=True))


def csv_rows(path):
    with open(path, newline="") as file:
        return list(csv.DictReader(file))


def stored_results():
    """Every stored result as the export's (run_id, metric, slice, value) keys."""
    return set(
        MetricResult.objects.values_list("run_id", "series__metric__name", "series__slice", "value")
    )


def keys(rows):
    return {(int(r["run_id"]), r["metric"], r["slice"], float(r["value"])) for r in rows}


def test_a_dry_run_says_what_it_would_remove_and_removes_nothing(history, tmp_path):
    before = stored_results()

    out = prune("--project", "acme", "--out", str(tmp_path))

    assert "runs recorded before 2026-01-31 00:00:00 UTC in project acme" in out
    # 1.0 .. 1.29, the canary run and the rerun, less the runs of the two pins and the mark.
    assert "acme     fraud-detector    29      117  2026-01-01 00:00  2026-01-30 00:00" in out
    assert "Kept, though recorded before: 2 runs a baseline pin points at; 1 run a budget" in out
    assert "Dry run: nothing was removed" in out
    assert stored_results() == before
    assert list(tmp_path.iterdir()) == []


def test_execute_writes_the_runs_then_removes_exactly_those_before_the_date(history, tmp_path):
    before = stored_results()
    globex = run_ids(EvaluationRun.objects.filter(project__name="globex"))
    kept = {run_of("1.2").pk, run_of("1.5").pk, run_of("1.10").pk}  # pinned, pinned, marked
    path = tmp_path / "acme.csv"

    out = prune("--project", "acme", "--out", str(path), "--execute")

    exported = keys(csv_rows(path))
    assert len(exported) == 117
    assert exported == before - stored_results()  # the file holds exactly what went
    assert f"Wrote 117 results of 29 runs to {path} ({path.stat().st_size:,} bytes)." in out
    assert "Removed 29 runs and 117 results in 1 batch." in out
    assert run_ids(acme_runs().filter(recorded_at__lt=CUTOFF)) == kept
    assert acme_runs().filter(recorded_at__gte=CUTOFF).count() == 20
    assert run_ids(EvaluationRun.objects.filter(project__name="globex")) == globex
    assert [p.name for p in tmp_path.iterdir()] == ["acme.csv"]  # no temporary file left
    assert path.stat().st_mode & 0o777 == 0o600  # a project's data: its owner's to read


def test_a_run_pinned_while_the_file_is_written_is_kept(history, api, tmp_path):
    path = tmp_path / "acme.csv"
    scope = retention.PruneScope(before=CUTOFF, project=projects.ensure_project(name="acme")[0])

    def pin_when_written(stage, outcome):
        if stage == "written":
            pin_baseline(api, "1.20")

    outcome = retention.prune(scope=scope, path=path, file_format="csv", progress=pin_when_written)

    assert (outcome.runs_exported, outcome.runs_removed, outcome.runs_spared) == (29, 28, 1)
    assert run_of("1.20") is not None
    assert run_of("1.20").pk in {int(row["run_id"]) for row in csv_rows(path)}


def test_every_pinned_run_and_a_marks_latest_run_survive(history, api, tmp_path):
    pinned = set(BaselinePin.objects.values_list("run_id", flat=True))
    earlier_rerun = acme_runs().filter(model_version__label="1.10").order_by("recorded_at").first()
    baseline = api.get(f"{MODEL_API}/baseline/?dataset=holdout").json()

    prune("--out", str(tmp_path), "--execute")

    assert len(pinned) == 2  # the current pin and the one before it
    assert run_ids(EvaluationRun.objects.filter(pk__in=pinned)) == pinned
    assert BaselinePin.objects.count() == 2
    assert run_of("1.10").recorded_at == START + timedelta(days=10)  # the budget's anchor
    assert not EvaluationRun.objects.filter(pk=earlier_rerun.pk).exists()
    assert run_of("1.5", "canary") is None
    assert not EvaluationRun.objects.filter(project__name="globex").exists()
    assert api.get(f"{MODEL_API}/baseline/?dataset=holdout").json() == baseline


def test_keep_baselines_also_keeps_the_other_runs_of_pinned_versions(history, tmp_path):
    out = prune("--project", "acme", "--keep-baselines", "--out", str(tmp_path), "--execute")

    assert "1 run of pinned versions (--keep-baselines)" in out
    assert "Removed 28 runs" in out
    assert run_of("1.5", "canary") is not None
    assert run_of("1.4") is None


def test_the_parquet_file_holds_exactly_the_removed_rows(history, tmp_path):
    pandas = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    before = stored_results()
    path = tmp_path / "acme.parquet"

    prune("--project", "acme", "--format", "parquet", "--out", str(path), "--execute")

    frame = pandas.read_parquet(path)
    exported = {
        (int(r.run_id), r.metric, r.slice, float(r.value)) for r in frame.itertuples(index=False)
    }
    assert len(frame) == len(exported) == 117
    assert exported == before - stored_results()
    assert str(frame["recorded_at"].dtype) == "datetime64[us, UTC]"


def test_parquet_without_pyarrow_is_refused_naming_format(history, tmp_path, monkeypatch):
    monkeypatch.setattr(downloads, "parquet_available", lambda: False)
    before = stored_results()

    with pytest.raises(CommandError, match="--format: Parquet needs pyarrow"):
        prune("--format", "parquet", "--out", str(tmp_path), "--execute")

    assert stored_results() == before
    assert list(tmp_path.iterdir()) == []


def test_a_failed_export_removes_nothing_and_leaves_no_file(history, tmp_path, monkeypatch):
    before = stored_results()

    def full_disk(descriptor):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(retention.os, "fsync", full_disk)

    with pytest.raises(CommandError, match=r"--out: could not write .*No space left on device"):
        prune("--out", str(tmp_path / "acme.csv"), "--execute")

    assert stored_results() == before
    assert list(tmp_path.iterdir()) == []


def test_a_read_only_directory_is_refused_before_anything(history, tmp_path):
    before = stored_results()
    tmp_path.chmod(0o500)
    if os.access(tmp_path, os.W_OK):
        tmp_path.chmod(0o700)
        pytest.skip("this process writes in read-only directories (root)")
    try:
        with pytest.raises(CommandError, match=r"--out: .* is not writable"):
            prune("--out", str(tmp_path / "acme.csv"), "--execute")
    finally:
        tmp_path.chmod(0o700)
    assert stored_results() == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--before", "2026-13-01"], "argument --before: not a date"),
        (["--before", "last tuesday"], "argument --before: not a date"),
        (["--before", "2999-01-01"], "argument --before: 2999-01-01 is in the future"),
        (["--project", "initech"], "--project: no project named 'initech'"),
        (["--out", "{tmp}/notes.txt/acme.csv"], "--out: .*notes.txt is not a directory"),
        (["--out", "{tmp}/missing/acme.csv"], "--out: .*missing is not a directory"),
        (["--out", "{tmp}/notes.txt"], "--out: .*notes.txt exists"),
        (["--batch-size", "0"], "argument --batch-size: between 1 and"),
        (["--format", "xlsx"], "argument --format: invalid choice"),
    ],
)
def test_bad_input_names_the_option_and_writes_and_removes_nothing(history, tmp_path, args,
                                                                   message):  # fmt: skip
    (tmp_path / "notes.txt").write_text("keep me")
    before = stored_results()
    args = [arg.replace("{tmp}", str(tmp_path)) for arg in args]

    with pytest.raises(CommandError, match=message):
        call_command("prune", "--before", BEFORE, "--out", str(tmp_path), *args, "--execute",
                     stdout=io.StringIO(), stderr=io.StringIO())  # fmt: skip

    assert stored_results() == before
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]
    assert (tmp_path / "notes.txt").read_text() == "keep me"


def test_pages_and_the_api_still_answer_after_pruning(history, client, api, project, tmp_path):
    old_version = ModelVersion.objects.get(model__project=project, label="1.3")
    recall = Series.objects.get(metric__name="recall")
    accuracy = Series.objects.get(
        metric__name="accuracy", environment="offline", model__project=project
    )
    finding = findings.record_findings(
        series=accuracy,
        detected=[findings.Detected(
            kind="drift", start_version_id=old_version.pk, end_version_id=old_version.pk,
            magnitude=-0.02, relative_magnitude=-0.02, slope=-0.002, p_value=0.001,
            confidence=0.999, forecast_versions=3, message="accuracy has drifted down")],
    ).opened[0]  # fmt: skip
    removed, kept = run_of("1.4").pk, run_of("1.40").pk
    assert len(api.get(SERIES).json()["points"]) == 51  # read once: now cached

    prune("--project", "acme", "--out", str(tmp_path), "--execute")

    client.force_login(projects.ensure_member(project=project, username="ana"))
    model_page = "/projects/acme/models/fraud-detector/"
    pages = ("/projects/acme/", model_page, f"{model_page}?dataset=holdout&slice=overall",
             f"{model_page}compare/", f"/runs/{kept}/", f"/findings/{finding.pk}/")  # fmt: skip
    for path in pages:
        assert client.get(path).status_code == 200, path
    assert client.get(f"/runs/{removed}/").status_code == 404
    points = api.get(SERIES).json()["points"]
    assert [p["version"] for p in points][:4] == ["1.2", "1.5", "1.10", "1.30"]
    assert len(points) == 23  # the cache read again
    empty = api.get(f"{MODEL_API}/series/?metric=recall&dataset=holdout")
    assert (empty.status_code, empty.json()["points"]) == (200, [])
    assert Series.objects.filter(pk=recall.pk).exists()
    for path in (f"{MODEL_API}/versions/", "/api/v1/findings/", f"/api/v1/findings/{finding.pk}/",
                 f"{MODEL_API}/baseline/?dataset=holdout", "/api/v1/runs/?format=csv"):  # fmt: skip
        assert api.get(path).status_code == 200, path
    finding.refresh_from_db()
    assert finding.start_version_id == old_version.pk  # versions stay


def test_a_model_with_every_run_removed_still_has_its_pages(history, client, other_api, tmp_path):
    globex = projects.ensure_project(name="globex")[0]

    prune("--project", "globex", "--out", str(tmp_path), "--execute")

    assert not EvaluationRun.objects.filter(project=globex).exists()
    client.force_login(projects.ensure_member(project=globex, username="eve"))
    for path in ("/projects/globex/", "/projects/globex/models/fraud-detector/"):
        assert client.get(path).status_code == 200, path
    series = other_api.get(SERIES)
    assert (series.status_code, series.json()["points"]) == (200, [])
    assert other_api.get(f"{MODEL_API}/versions/").status_code == 200


def test_touched_series_are_analysed_again(history, api, tmp_path):
    pull_request = {**drifting_history(1)[0], "branch": "feature/x", "version": "pr.1"}
    post_batch(api, [pull_request])  # its series are not analysed (nor watched)
    touched = Series.objects.filter(model__project__name="acme", watched=True)
    series_analysis.analyse_series(series_ids=list(touched.values_list("pk", flat=True)))
    before = dict(touched.values_list("pk", "analysis_count"))

    out = prune("--project", "acme", "--out", str(tmp_path), "--execute")

    assert "Removed 30 runs" in out
    assert "13 series lost points; the 9 on analysed branches are due for trend analysis" in out
    after = dict(touched.values_list("pk", "analysis_count"))
    assert all(after[pk] == before[pk] + 1 for pk in before)
    assert not touched.filter(dirty=True).exists()
    assert not touched.filter(analysis_failures__gt=0).exists()  # recall has no point left


def test_batches_are_bounded_and_an_interrupted_prune_finishes_when_run_again(
    history, tmp_path, monkeypatch
):
    before = stored_results()
    real_remove = retention._remove_batch
    calls = []

    def interrupted(scope, run_ids, outcome):
        if len(calls) == 3:
            raise KeyboardInterrupt
        calls.append(len(run_ids))
        real_remove(scope, run_ids, outcome)

    monkeypatch.setattr(retention, "_remove_batch", interrupted)
    with pytest.raises(KeyboardInterrupt):
        prune("--project", "acme", "--batch-size", "10", "--out", str(tmp_path / "1.csv"),
              "--execute")  # fmt: skip
    assert calls == [2, 2, 2]  # 10 results a batch: two runs of four (a run is never split)
    assert len(before - stored_results()) == 24
    monkeypatch.undo()

    out = prune("--project", "acme", "--batch-size", "10", "--out", str(tmp_path / "2.csv"),
                "--execute")  # fmt: skip

    assert "Removed 23 runs and 93 results in 12 batches." in out
    first, second = keys(csv_rows(tmp_path / "1.csv")), keys(csv_rows(tmp_path / "2.csv"))
    assert len(first) == 117  # all it was to remove; the runs not removed are in both
    assert second < first
    assert first == before - stored_results()


def test_nothing_to_remove_writes_no_file(history, tmp_path):
    out = prune("--project", "globex", "--before", "2025-01-01", "--out", str(tmp_path),
                "--execute")  # fmt: skip

    assert "No runs recorded before 2025-01-01 00:00:00 UTC in project globex" in out
    assert list(tmp_path.iterdir()) == []


RESULTS = 50_000
METRICS = 10


@pytest.fixture
def big_history(post_run, run_body):
    """acme's fraud-detector: one run of ten metrics, and 4,999 copies of it a minute apart
    before it (written in SQL: posting them would take minutes)."""
    run_body["metrics"] = [{"name": f"m{i}", "value": 0.5 + i / 100, "n": 100} for i in range(10)]
    assert post_run(run_body).status_code == 201
    run = EvaluationRun.objects.get()
    runs, results = EvaluationRun._meta.db_table, MetricResult._meta.db_table
    columns = [f.column for f in EvaluationRun._meta.concrete_fields if f.column != "id"]
    values = {"recorded_at": "s.recorded_at - g * interval '1 minute'", "external_id": "NULL"}
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {runs} ({', '.join(columns)}) SELECT "
            f"{', '.join(values.get(c, f's.{c}') for c in columns)} "
            f"FROM {runs} s, generate_series(1, %s) g WHERE s.id = %s",
            [RESULTS // METRICS - 1, run.pk],
        )
        cursor.execute(
            f"""
            INSERT INTO {results} (run_id, series_id, model_version_id, value, n, recorded_at)
            SELECT r.id, m.series_id, m.model_version_id, m.value, m.n, r.recorded_at
            FROM {runs} r, {results} m WHERE r.id <> %s AND m.run_id = %s
            """,
            [run.pk, run.pk],
        )
        cursor.execute("ANALYZE")
    return run


# The 50,000 rows read at once as Python tuples take 47 MB; streamed, the CSV holds a few
# thousand at a time (about 4 MB), Parquet a 10,000-row group (about 20 MB); each batch of the
# removal about 0.5 MB.
@pytest.mark.postgres
@pytest.mark.timeout(300)
@pytest.mark.parametrize(("file_format", "ceiling"), [("csv", 6_000_000), ("parquet", 25_000_000)])
def test_a_prune_of_50000_results_streams_in_bounded_memory(
    big_history, tmp_path, file_format, ceiling
):
    if file_format == "parquet" and not downloads.parquet_available():
        pytest.skip("needs pyarrow")
    path = tmp_path / f"old.{file_format}"
    scope = retention.PruneScope(before=big_history.recorded_at)

    tracemalloc.start()
    try:
        outcome = retention.prune(scope=scope, path=path, file_format=file_format)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    assert (outcome.rows, outcome.results_removed) == (RESULTS - METRICS, RESULTS - METRICS)
    assert outcome.batches == 5  # 10,000 results a transaction
    assert list(EvaluationRun.objects.values_list("pk", flat=True)) == [big_history.pk]
    assert peak < ceiling, f"peak {peak / 1e6:.1f} MB for a file of {outcome.size / 1e6:.1f} MB"
    print(f"\n{file_format}: {outcome.size / 1e6:.1f} MB, peak Python memory {peak / 1e6:.2f} MB")
