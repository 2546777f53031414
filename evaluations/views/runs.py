"""The run page."""

import json

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from evaluations import links, selectors
from evaluations.services import gate
from evaluations.views.access import member_project


@login_required
def run_page(request, run_id):
    project = member_project(request, runs__pk=run_id)
    run = selectors.get_run(project=project, run_id=run_id)
    context = {
        "run": run,
        "project": project,
        "verdict": gate.run_verdict(run=run),
        "branch_path": links.branch_path(run),
        "siblings": selectors.replicate_siblings(run=run),
        # As CI posted it (JSON), not as Python would print it.
        "metadata": json.dumps(run.metadata, indent=2, sort_keys=True, ensure_ascii=False),
    }
    return render(request, "evaluations/run.html", context)
