"""Project pages: the overview and the project's settings."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render

from evaluations import selectors
from evaluations.forms import SubscriptionForm
from evaluations.models import AlertSubscription, Project
from evaluations.services import alerts
from evaluations.views.access import member_project


@login_required
def home(request):
    projects = Project.objects.filter(members=request.user).order_by("name")
    overview = [(project, selectors.models_for(project=project)) for project in projects]
    return render(request, "evaluations/home.html", {"overview": overview})


@login_required
def project_settings(request, project_name):
    project = member_project(request, name=project_name)
    form = SubscriptionForm()
    if request.method == "POST":
        if "delete" in request.POST:
            AlertSubscription.objects.filter(project=project, pk=request.POST["delete"]).delete()
            return redirect("project-settings", project_name=project.name)
        form = SubscriptionForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            alerts.save_subscription(
                project=project, name=data["name"], emails=data["emails"],
                include_members=data["include_members"], model_names=data["models"],
                kinds=data["kinds"], notify_recovered=data["notify_recovered"],
            )  # fmt: skip
            return redirect("project-settings", project_name=project.name)
    subscriptions = AlertSubscription.objects.filter(project=project).order_by("name")
    return render(
        request, "evaluations/project_settings.html",
        {"project": project, "form": form, "subscriptions": subscriptions},
    )  # fmt: skip
