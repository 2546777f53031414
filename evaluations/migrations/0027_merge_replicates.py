"""Joins the replicate sets' migration (0024, made beside 0025 on 0023) with the line that
went on from 0025 (missed regressions and the project's sensitivity, then results without
their series constraint). They touch different tables."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("evaluations", "0024_replicate_sets"),
        ("evaluations", "0026_results_without_series_constraint"),
    ]

    operations = []
