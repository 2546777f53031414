"""The run page."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from evaluations import selectors
from evaluations.views.access import member_project


@login_required
def run_page(request, run_id):
    project = member_project(request, runs__pk=run_id)
    run = selectors.get_run(project=project, run_id=run_id)
    return render(request, "evaluations/run.html", {"run": run, "project": project})
