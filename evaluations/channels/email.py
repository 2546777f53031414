"""E-mail: one multipart message per delivery to one address (an alert, or a digest of the
alerts of one moment), with a signed one-click unsubscribe link. An SMTP failure is retried;
the Message-ID is the delivery's, so a resend is shown as the same message."""

from evaluations import emails, selectors

from .base import Failed, Transport

RECENT_POINTS = 12


class Email(Transport):
    def notify(self, delivery) -> str:
        message = build(delivery)
        try:
            message.send()
        except Exception as exc:  # any failure of the SMTP exchange is retried
            raise Failed(f"{type(exc).__name__}: {exc}") from exc
        return message.subject


def build(delivery):
    url = delivery.extra["unsubscribe_url"]
    if delivery.extra.get("test"):
        return emails.channel_test(
            to=delivery.recipient, alert=delivery.alerts[0], channel=delivery.channel,
            unsubscribe_url=url, message_id=delivery.id,
        )  # fmt: skip
    first, to = delivery.notifications[0], delivery.recipient
    if len(delivery.alerts) > 1:
        return emails.digest(
            to=to, alerts=delivery.alerts, channel=delivery.channel, held=delivery.held,
            unsubscribe_url=url, message_id=delivery.id,
        )  # fmt: skip
    (alert,) = delivery.alerts
    about = alert.source
    if first.decision_id is not None:
        return emails.experiment_alert(
            to=to, notification=first, decision=about, unsubscribe_url=url,
            arm_rows=selectors.arm_rows(experiment=about.experiment, decision=about),
            message_id=delivery.id,
        )  # fmt: skip
    points = selectors.series_points(series=about.series, limit=RECENT_POINTS)
    (limits,) = selectors.analysis_inputs(series_ids=[about.series_id], points=1)
    return emails.finding_alert(
        to=to, notification=first, finding=about, points=points, limits=limits,
        unsubscribe_url=url, message_id=delivery.id,
    )  # fmt: skip
