"""What a notification says, in plain values every channel shows alike (``base.Alert``): the
title an e-mail's subject also has, the sentence, the facts and the links."""

from django.template.loader import render_to_string

from evaluations import links

from .base import Alert


def alert_for(notification, about) -> Alert:
    """``about`` is the notification's finding or experiment decision."""
    if notification.decision_id is not None:
        return _experiment_alert(notification, about)
    return _finding_alert(notification, about)


def _finding_alert(notification, finding) -> Alert:
    series = finding.series
    context = {"notification": notification, "finding": finding, "series": series}
    if notification.event == "recovered":
        sentence = (
            f"{series.model.name} {series.metric.name} on {series.dataset.name} is back to its "
            "level."
        )
    else:
        sentence = finding.message
    return Alert(
        kind=finding.kind,
        event=notification.event,
        title=_line("emails/finding_subject.txt", context),
        sentence=sentence,
        model=series.model.name,
        facts={
            "metric": series.metric.name,
            "dataset": series.dataset.name,
            "dataset_version": series.dataset.version,
            "slice": series.slice,
            "branch": series.branch.name,
            "environment": series.environment,
            "since": finding.start_version.label if finding.start_version else None,
            "change": finding.magnitude,
            "relative_change": finding.relative_magnitude,
            "status": finding.status,
        },
        links={"finding": links.finding_url(finding), "chart": links.model_chart_url(series)},
        source=finding,
    )


def _experiment_alert(notification, decision) -> Alert:
    experiment = decision.experiment
    labels = experiment.labels
    context = {"experiment": experiment, "headline": decision.headline,
               "control": labels[0], "candidates": labels[1:]}  # fmt: skip
    return Alert(
        kind=(decision.alerts or [decision.action])[0],
        event=notification.event,
        title=_line("emails/experiment_subject.txt", context),
        sentence="; ".join(decision.reasons),
        model=experiment.model.name,
        facts={
            "experiment": experiment.name,
            "experiment_kind": experiment.kind,
            "alerts": decision.alerts,
            "decision": decision.action,
            "control": labels[0],
            "candidates": labels[1:],
            "status": experiment.status,
            "window": decision.window.window_id if decision.window_id else None,
        },
        links={
            "experiment": links.experiment_url(experiment),
            "model": links.model_url(experiment.model),
        },
        source=decision,
    )


def _line(template, context) -> str:
    return " ".join(render_to_string(template, context).split())
