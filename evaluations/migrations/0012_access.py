from django.db import migrations, models


class Migration(migrations.Migration):
    """Token scopes and expiry, and the viewer role. Tokens made before scopes existed could do
    everything, so they become ``admin`` (no CI job breaks); new tokens default to ``ingest``."""

    dependencies = [("evaluations", "0011_run_gate_verdict")]

    operations = [
        migrations.AddField(
            model_name="apitoken",
            name="scope",
            field=models.CharField(
                choices=[("ingest", "Ingest"), ("admin", "Admin")], default="admin", max_length=16
            ),
        ),
        migrations.AlterField(
            model_name="apitoken",
            name="scope",
            field=models.CharField(
                choices=[("ingest", "Ingest"), ("admin", "Admin")], default="ingest", max_length=16
            ),
        ),
        migrations.AddField(
            model_name="apitoken",
            name="expires_at",
            field=models.DateTimeField(blank=True, help_text="Empty: never expires.", null=True),
        ),
        migrations.AlterField(
            model_name="membership",
            name="role",
            field=models.CharField(
                choices=[("owner", "Owner"), ("member", "Member"), ("viewer", "Viewer")],
                default="member",
                max_length=16,
            ),
        ),
    ]
