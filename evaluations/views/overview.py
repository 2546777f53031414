"""The first pages a member sees: their projects, and a project's overview."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render

from evaluations import selectors
from evaluations.models import Project
from evaluations.selectors import overview
from evaluations.services import gate, missed
from evaluations.views.access import member_project


@login_required
def home(request):
    projects = list(Project.objects.filter(members=request.user).order_by("name"))
    if len(projects) == 1:
        return redirect("project-page", project_name=projects[0].name)
    return render(request, "evaluations/home.html", {"projects": projects})


@login_required
def project_page(request, project_name):
    project = member_project(request, name=project_name)
    summaries = overview.project_overview(project=project)
    for summary in summaries:
        run = summary.latest_run
        summary.gate = gate.run_verdict(run=run) if run is not None else None
    context = {
        "project": project,
        "summaries": summaries,
        "findings": overview.active_findings(project=project),
        "alert_quality": missed.alert_quality(
            findings=selectors.findings_for(project=project),
            marks=selectors.missed_for(project=project),
        ),
    }
    return render(request, "evaluations/project.html", context)
