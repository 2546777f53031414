"""Online comparisons' pages: the project's experiments, and one experiment's timeline."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from evaluations import selectors
from evaluations.views.access import member_project
from evaluations.views.embed import script_json


@login_required
def experiments_page(request, project_name):
    project = member_project(request, name=project_name)
    model = None
    if request.GET.get("model"):
        model = selectors.find_model(project=project, name=request.GET["model"])
    found = []
    if model is not None or not request.GET.get("model"):
        found = list(selectors.experiments_for(project=project, model=model))
        selectors.latest_decisions(found)
    context = {
        "project": project,
        "model": model,
        "model_name": request.GET.get("model", ""),
        "experiments": found,
    }
    return render(request, "evaluations/experiments.html", context)


@login_required
def experiment_page(request, experiment_id):
    project = member_project(request, experiments__pk=experiment_id)
    experiment = selectors.get_experiment(project=project, experiment_id=experiment_id)
    decisions = list(experiment.decisions.select_related("window").order_by("-created_at", "-id"))
    timeline = selectors.experiment_timeline(experiment=experiment)
    latest = decisions[0] if decisions else None
    context = {
        "project": project,
        "experiment": experiment,
        "latest": latest,
        "arm_rows": selectors.arm_rows(experiment=experiment, decision=latest),
        "decisions": decisions,
        "notifications": selectors.experiment_notifications(experiment=experiment),
        "chart_json": script_json(timeline),
    }
    return render(request, "evaluations/experiment.html", context)
