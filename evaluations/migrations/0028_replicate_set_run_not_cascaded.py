"""A replicate set's latest run no longer takes the set with it when deleted: the removal of
runs summarises their sets again (services/removal.py). Django's on_delete only: the database's
foreign key is unchanged."""

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("evaluations", "0027_merge_replicates"),
    ]

    operations = [
        migrations.AlterField(
            model_name="replicateset",
            name="run",
            field=models.ForeignKey(
                on_delete=django.db.models.deletion.DO_NOTHING,
                related_name="+",
                to="evaluations.evaluationrun",
            ),
        ),
    ]
