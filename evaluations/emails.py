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


def finding_alert(*, to, notification, finding, points, limits, unsubscribe_url):
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
        headers={
            "List-Unsubscribe": f"<{unsubscribe_url}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            # Stable per notification: a resend after a worker died mid-send is recognised
            # as the same message by mail clients.
            "Message-ID": f"<notification-{notification.pk}@{_domain()}>",
        },
    )


def _domain():
    return settings.SITE_URL.split("://", 1)[-1].split("/", 1)[0].split(":", 1)[0] or "localhost"


def digest(*, to, items, first, unsubscribe_url):
    """One e-mail about several findings ((notification, finding) pairs) of one moment."""
    return build(
        "digest",
        to=to,
        context={
            "items": [
                {"notification": n, "finding": f, "url": links.finding_url(f)} for n, f in items
            ],
            "subscription": first.subscription,
            "unsubscribe_url": unsubscribe_url,
            "held": sum(1 for n, _ in items if n.last_error == HELD),
        },
        headers={
            "List-Unsubscribe": f"<{unsubscribe_url}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "Message-ID": f"<notification-{first.pk}-digest@{_domain()}>",
        },
    )
