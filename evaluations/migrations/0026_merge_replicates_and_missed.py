"""Joins the two migrations made beside each other on 0023: replicate sets (0024) and missed
regressions with the project's sensitivity (0025). They touch different tables."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("evaluations", "0024_replicate_sets"),
        ("evaluations", "0025_missed_regressions_and_sensitivity"),
    ]

    operations = []
