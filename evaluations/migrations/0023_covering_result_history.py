"""The history index covers what the model page and the analysis read of a series, so that
PostgreSQL answers them from the index alone (benchmarks/history.py). The covering index is
built beside the old one, which goes only then: reads keep their index while it is built
(about 10 s per 10 million results here), and only posts wait for it."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("evaluations", "0022_verdicts_as_json"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="metricresult",
            index=models.Index(
                fields=["series", "recorded_at", "run"],
                include=("model_version", "value", "n", "ci_low", "ci_high"),
                name="result_history_covering",
            ),
        ),
        migrations.RemoveIndex(model_name="metricresult", name="result_history"),
        migrations.RenameIndex(
            model_name="metricresult",
            new_name="result_history",
            old_name="result_history_covering",
        ),
    ]
