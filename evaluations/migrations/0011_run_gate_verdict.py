from django.db import migrations, models


def store_outcomes_uncompressed(apps, schema_editor):
    """Outcome bitmaps are near-random bits: PostgreSQL's default TOAST compression (pglz)
    gives up on them, but only after 30 ms per million examples; stored as they are, a
    million examples insert in 5 ms. Existing values keep their storage."""
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "ALTER TABLE evaluations_metricresult ALTER COLUMN outcomes SET STORAGE EXTERNAL"
        )


def store_outcomes_compressed(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            "ALTER TABLE evaluations_metricresult ALTER COLUMN outcomes SET STORAGE EXTENDED"
        )


class Migration(migrations.Migration):
    dependencies = [
        ("evaluations", "0010_series_analysis_state"),
    ]

    operations = [
        migrations.AddField(
            model_name="evaluationrun",
            name="gate_verdict",
            field=models.JSONField(blank=True, editable=False, null=True),
        ),
        migrations.RunPython(store_outcomes_uncompressed, store_outcomes_compressed),
    ]
