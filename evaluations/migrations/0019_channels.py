"""Alert subscriptions become channels: each existing subscription is an e-mail channel with
the same addresses, members, filters and unsubscriptions (the rows are renamed in place, so
nobody's alerts stop), and notifications belong to a channel."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("evaluations", "0018_experiment_alerts"),
    ]

    operations = [
        migrations.RenameModel("AlertSubscription", "Channel"),
        migrations.AlterField(
            model_name="channel",
            name="project",
            field=models.ForeignKey(
                on_delete=models.deletion.CASCADE,
                related_name="channels",
                to="evaluations.project",
            ),
        ),
        migrations.AddField(
            model_name="channel",
            name="kind",
            field=models.CharField(
                choices=[("email", "e-mail"), ("webhook", "webhook"), ("slack", "Slack"),
                         ("teams", "Microsoft Teams")],
                default="email", max_length=16,
            ),  # fmt: skip
        ),
        migrations.AddField(
            model_name="channel",
            name="url",
            field=models.URLField(blank=True, max_length=2000),
        ),
        migrations.AddField(
            model_name="channel",
            name="secret",
            field=models.CharField(blank=True, max_length=200),
        ),
        migrations.RenameField("notification", "subscription", "channel"),
        migrations.AlterField(
            model_name="notification",
            name="channel",
            field=models.ForeignKey(
                on_delete=models.deletion.CASCADE,
                related_name="notifications",
                to="evaluations.channel",
            ),
        ),
        migrations.AlterField(
            model_name="notification",
            name="recipient",
            field=models.EmailField(blank=True, help_text="E-mail only: the address",
                                    max_length=254),  # fmt: skip
        ),
        migrations.AddField(
            model_name="notification",
            name="batch_key",
            field=models.UUIDField(blank=True, null=True),
        ),
        migrations.AddIndex(
            model_name="notification",
            index=models.Index(
                fields=["channel", "recipient", "state"], name="notification_pending"
            ),
        ),
    ]
