"""Building e-mails: each kind is rendered from templates/emails/<name>_subject.txt,
_body.txt and _body.html by naming convention."""

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string

from evaluations import links

HELD = "held back by the rate limit"


def build(name, *, to, context, headers=None) -> EmailMultiAlternatives:
    subject = " ".join(render_to_string(f"emails/{name}_subject.txt", context).split())
    message = EmailMultiAlternatives(
        subject=subject,
        body=render_to_string(f"emails/{name}_body.txt", context),
        to=[to],
        headers=headers or {},
    )
    message.attach_alternative(render_to_string(f"emails/{name}_body.html", context), "text/html")
    return message


def finding_alert(*, to, notification, finding, points, limits, unsubscribe_url, message_id):
    """The e-mail about a finding that opened (or recovered)."""
    return build(
        "finding",
        to=to,
        context={
            "notification": notification,
            "finding": finding,
            "series": finding.series,
            "points": points,
            "baseline": limits.baseline,
            "threshold": limits.floor,
            "finding_url": links.finding_url(finding),
            "chart_url": links.model_chart_url(finding.series),
            "unsubscribe_url": unsubscribe_url,
        },
        headers=_alert_headers(unsubscribe_url, f"alert-{message_id}"),
    )


def experiment_alert(*, to, notification, decision, arm_rows, unsubscribe_url, message_id):
    """The e-mail about an experiment's decision that rolled back, breached a guardrail or
    found the traffic split off plan."""
    experiment = decision.experiment
    names = [spec["name"] for spec in experiment.metric_specs]
    return build(
        "experiment",
        to=to,
        context={
            "notification": notification,
            "decision": decision,
            "experiment": experiment,
            "headline": decision.headline,
            "alerts": decision.alerts,
            "control": experiment.labels[0],
            "candidates": experiment.labels[1:],
            "traffic": _traffic(experiment, decision),
            "metric_names": names,
            "arm_rows": [
                (label, units, list(zip(names, metrics, strict=True)))
                for label, units, metrics in arm_rows
            ],
            "experiment_url": links.experiment_url(experiment),
            "model_url": links.model_url(experiment.model),
            "unsubscribe_url": unsubscribe_url,
        },
        headers=_alert_headers(unsubscribe_url, f"alert-{message_id}"),
    )


def _traffic(experiment, decision):
    """A canary's share of traffic (percent) at the step the decision was taken."""
    if experiment.kind != "canary" or decision.step >= len(experiment.traffic_steps):
        return None
    return experiment.traffic_steps[decision.step]


def _alert_headers(unsubscribe_url, message_id):
    return {
        "List-Unsubscribe": f"<{unsubscribe_url}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        # The delivery's id, the same on every attempt: a resend after a worker died mid-send
        # is recognised as the same message by mail clients.
        "Message-ID": f"<{message_id}@{_domain()}>",
    }


def _domain():
    return settings.SITE_URL.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0] or "localhost"


def digest(*, to, alerts, channel, held, unsubscribe_url, message_id):
    """One e-mail about several alerts of one moment (``channels.Alert``: findings and
    experiment decisions), ``held`` of them held back by the rate limit before."""
    entries = [
        {"alert": alert, "url": next(iter(alert.links.values()), ""),
         "name": f"{alert.model} {alert.facts.get('metric') or alert.facts.get('experiment')}"}
        for alert in alerts
    ]  # fmt: skip
    findings_only = all(alert.event != "experiment" for alert in alerts)
    return build(
        "digest",
        to=to,
        context={
            "items": entries,
            "noun": "findings" if findings_only else "alerts",
            "channel": channel,
            "unsubscribe_url": unsubscribe_url,
            "held": held,
        },
        headers=_alert_headers(unsubscribe_url, f"alert-{message_id}"),
    )


def channel_test(*, to, alert, channel, unsubscribe_url, message_id):
    """The test message a channel's settings send."""
    return build(
        "test",
        to=to,
        context={"alert": alert, "channel": channel, "unsubscribe_url": unsubscribe_url},
        headers=_alert_headers(unsubscribe_url, f"alert-{message_id}"),
    )
