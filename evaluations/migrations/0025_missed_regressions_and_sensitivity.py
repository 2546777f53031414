"""Regressions people say the analysis missed (for the alerts' recall), and the project's
choice of how eager the trend analysis is."""

import django.db.models.deletion
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('evaluations', '0023_covering_result_history'),
    ]

    operations = [
        migrations.AddField(
            model_name='project',
            name='sensitivity',
            field=models.CharField(choices=[('strict', 'strict'), ('balanced', 'balanced'), ('sensitive', 'sensitive')], default='balanced', max_length=16),
        ),
        migrations.CreateModel(
            name='MissedRegression',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('note', models.CharField(max_length=500)),
                ('created_by', models.CharField(max_length=200)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
                ('withdrawn_by', models.CharField(blank=True, max_length=200)),
                ('withdrawn_at', models.DateTimeField(blank=True, null=True)),
                ('model_version', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='evaluations.modelversion')),
                ('series', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='missed', to='evaluations.series')),
            ],
            options={
                'constraints': [models.UniqueConstraint(condition=models.Q(('withdrawn_at__isnull', True)), fields=('series', 'model_version'), name='missed_once_per_version')],
            },
        ),
    ]
