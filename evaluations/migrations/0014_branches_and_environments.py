"""Branches and environments, first step: the new tables and columns, nullable until the
next migration fills them."""

import django.db.models.deletion
from django.db import migrations, models
from django.utils import timezone

import evaluations.models.projects


class Migration(migrations.Migration):
    dependencies = [
        ("evaluations", "0013_result_class_counts"),
    ]

    operations = [
        migrations.AddField(
            model_name="project",
            name="default_branch",
            field=models.CharField(default="main", max_length=200),
        ),
        migrations.AddField(
            model_name="project",
            name="long_lived_branches",
            field=models.JSONField(
                blank=True, default=evaluations.models.projects.default_long_lived_branches
            ),
        ),
        migrations.AddField(
            model_name="project",
            name="analyse_every_branch",
            field=models.BooleanField(default=False),
        ),
        migrations.AddField(
            model_name="project",
            name="archive_branches_after_days",
            field=models.PositiveIntegerField(default=30),
        ),
        migrations.CreateModel(
            name="Branch",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("name", models.CharField(max_length=200)),
                ("long_lived", models.BooleanField(default=False)),
                ("first_seen_at", models.DateTimeField(default=timezone.now)),
                ("merged_at", models.DateTimeField(blank=True, null=True)),
                ("merged_by", models.CharField(blank=True, max_length=200)),
                (
                    "model",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="branches",
                        to="evaluations.registeredmodel",
                    ),
                ),
            ],
            options={
                "verbose_name_plural": "branches",
                "constraints": [
                    models.UniqueConstraint(fields=("model", "name"), name="branch_unique_name")
                ],
            },
        ),
        migrations.AddField(
            model_name="evaluationrun",
            name="base_branch",
            field=models.CharField(blank=True, max_length=200),
        ),
        migrations.AddField(
            model_name="series",
            name="branch",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="series",
                to="evaluations.branch",
            ),
        ),
        migrations.AddField(
            model_name="series",
            name="environment",
            field=models.CharField(
                choices=[
                    ("offline", "Offline"),
                    ("shadow", "Shadow"),
                    ("canary", "Canary"),
                    ("production", "Production"),
                ],
                default="offline",
                max_length=16,
            ),
        ),
        migrations.AddField(
            model_name="series",
            name="watched",
            field=models.BooleanField(default=True),
        ),
        migrations.AddField(
            model_name="baselinepin",
            name="branch",
            field=models.ForeignKey(
                null=True,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="pins",
                to="evaluations.branch",
            ),
        ),
        migrations.RemoveConstraint(model_name="series", name="series_unique_key"),
        migrations.RemoveIndex(model_name="baselinepin", name="pin_latest"),
    ]
