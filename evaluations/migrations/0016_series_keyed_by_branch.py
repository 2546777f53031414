"""Branches and environments, last step: series and pins always have a branch; a series is
unique per model, dataset, metric, slice, branch and environment."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("evaluations", "0015_split_series_by_branch"),
    ]

    operations = [
        migrations.AlterField(
            model_name="series",
            name="branch",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="series",
                to="evaluations.branch",
            ),
        ),
        migrations.AlterField(
            model_name="baselinepin",
            name="branch",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.CASCADE,
                related_name="pins",
                to="evaluations.branch",
            ),
        ),
        migrations.AddConstraint(
            model_name="series",
            constraint=models.UniqueConstraint(
                fields=("model", "dataset", "metric", "slice", "branch", "environment"),
                name="series_unique_key",
            ),
        ),
        migrations.AddIndex(
            model_name="baselinepin",
            index=models.Index(
                fields=["model", "dataset_name", "branch", "-pinned_at", "-id"], name="pin_latest"
            ),
        ),
        migrations.AddIndex(
            model_name="evaluationrun",
            index=models.Index(
                condition=~models.Q(commit=""), fields=["commit"], name="run_by_commit"
            ),
        ),
    ]
