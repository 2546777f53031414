"""Series, baselines and runs by branch and environment, migrated in place.

Every run names its branch (the default, ``main``, where it named none) and the branch that
judged it; every model gets its branches. Existing series and pins belong to the default
branch, offline; results of runs on other branches or in other environments move to series of
their own (runs and results keep their ids). Series whose points moved are due for analysis
again, and a series left with no result and no finding is removed.
"""

from fnmatch import fnmatchcase

from django.db import migrations
from django.db.models import F
from django.utils import timezone

DEFAULT_BRANCH = "main"  # every project's default when this migration adds the setting
OFFLINE = "offline"


def split_by_branch_and_environment(apps, schema_editor):
    Project = apps.get_model("evaluations", "Project")
    RegisteredModel = apps.get_model("evaluations", "RegisteredModel")
    Branch = apps.get_model("evaluations", "Branch")
    Run = apps.get_model("evaluations", "EvaluationRun")
    Series = apps.get_model("evaluations", "Series")
    Result = apps.get_model("evaluations", "MetricResult")
    Pin = apps.get_model("evaluations", "BaselinePin")
    Finding = apps.get_model("evaluations", "Finding")
    now = timezone.now()

    Run.objects.filter(branch="").update(branch=DEFAULT_BRANCH)
    Run.objects.update(base_branch=DEFAULT_BRANCH)

    patterns = dict(Project.objects.values_list("pk", "long_lived_branches"))
    project_of = dict(RegisteredModel.objects.values_list("pk", "project_id"))
    names = {(model_id, DEFAULT_BRANCH) for model_id in project_of}
    names |= set(Run.objects.values_list("model_version__model_id", "branch").distinct())
    Branch.objects.bulk_create(
        [
            Branch(
                model_id=model_id,
                name=name,
                long_lived=any(fnmatchcase(name, p) for p in patterns[project_of[model_id]]),
                first_seen_at=now,
            )
            for model_id, name in sorted(names)
        ],
        batch_size=1000,
    )
    branches = {
        (model_id, name): (pk, long_lived)
        for pk, model_id, name, long_lived in Branch.objects.values_list(
            "pk", "model_id", "name", "long_lived"
        )
    }
    for model_id in project_of:
        default_id = branches[(model_id, DEFAULT_BRANCH)][0]
        Series.objects.filter(model_id=model_id).update(branch_id=default_id)
        Pin.objects.filter(model_id=model_id).update(branch_id=default_id)

    moving = Result.objects.exclude(run__branch=DEFAULT_BRANCH, run__environment=OFFLINE)
    combos = moving.values_list(
        "series_id", "series__model_id", "series__dataset_id", "series__metric_id",
        "series__slice", "run__branch", "run__environment",
    ).distinct()  # fmt: skip
    emptied = set()
    for old_id, model_id, dataset_id, metric_id, slice_, branch, environment in combos:
        branch_id, long_lived = branches[(model_id, branch)]
        watched = branch == DEFAULT_BRANCH or long_lived
        series, _ = Series.objects.get_or_create(
            model_id=model_id, dataset_id=dataset_id, metric_id=metric_id, slice=slice_,
            branch_id=branch_id, environment=environment,
            defaults={"watched": watched, "dirty": watched, "due_since": now, "generation": 1},
        )  # fmt: skip
        moving.filter(series_id=old_id, run__branch=branch, run__environment=environment).update(
            series_id=series.pk
        )
        emptied.add(old_id)
    # What the series lost, their analysis must forget: they are due again.
    Series.objects.filter(pk__in=emptied).update(
        dirty=True, due_since=now, queued_at=None, generation=F("generation") + 1
    )
    Series.objects.filter(pk__in=emptied, results__isnull=True).exclude(
        pk__in=Finding.objects.values("series_id")
    ).delete()


def merge_back(apps, schema_editor):
    """Back to one series per model, dataset, metric and slice: results of other branches and
    environments return to the default branch's offline series."""
    Series = apps.get_model("evaluations", "Series")
    Result = apps.get_model("evaluations", "MetricResult")
    others = Series.objects.exclude(branch__name=DEFAULT_BRANCH, environment=OFFLINE)
    for series in others.iterator():
        target = (
            Series.objects.filter(
                model_id=series.model_id,
                dataset_id=series.dataset_id,
                metric_id=series.metric_id,
                slice=series.slice,
                branch__name=DEFAULT_BRANCH,
                environment=OFFLINE,
            )  # fmt: skip
            .values_list("pk", flat=True)
            .first()
        )
        if target is None:
            series.environment = OFFLINE
            series.branch_id = series.model.branches.get(name=DEFAULT_BRANCH).pk
            series.save(update_fields=["environment", "branch"])
            continue
        Result.objects.filter(series_id=series.pk).update(series_id=target)
        series.delete()


class Migration(migrations.Migration):
    dependencies = [
        ("evaluations", "0014_branches_and_environments"),
    ]

    operations = [
        migrations.RunPython(split_by_branch_and_environment, merge_back, elidable=False),
    ]
