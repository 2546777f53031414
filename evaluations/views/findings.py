"""The finding page: explanation, chart of its window, triage, notification history."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import BadRequest
from django.shortcuts import redirect, render

from evaluations import selectors
from evaluations.selectors import charts
from evaluations.services import findings
from evaluations.views.access import WRITERS, may_write, member_project, require_role
from evaluations.views.embed import script_json


@login_required
def finding_page(request, finding_id):
    project = member_project(request, models__series__findings__pk=finding_id)
    finding = selectors.get_finding(project=project, finding_id=finding_id)
    if request.method == "POST" and request.POST.get("action") in findings.TRANSITIONS:
        require_role(request, project, WRITERS, "triage findings")
        if "\x00" in request.POST.get("note", ""):
            raise BadRequest("A note must not contain NUL characters.")  # PostgreSQL's text
        try:
            findings.triage(
                finding=finding, action=request.POST["action"], by=request.user.get_username(),
                note=request.POST.get("note", "")[:500],
            )  # fmt: skip
        except findings.TriageError as exc:
            messages.error(request, exc.errors["status"][0])
        return redirect("finding-page", finding_id=finding_id)
    context = {
        "finding": finding,
        "project": project,
        "may_write": may_write(project, request.user),
        "notifications": finding.notifications.order_by("-created_at"),
        "points": selectors.series_points(series=finding.series, limit=30),
        "chart_json": script_json(charts.finding_chart(finding=finding)),
    }
    return render(request, "evaluations/finding.html", context)
