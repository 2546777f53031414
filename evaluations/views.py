"""Pages for team members (login required, own projects only) and the health check."""

import logging

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db import connection
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET

from evaluations import selectors
from evaluations.forms import SubscriptionForm
from evaluations.models import AlertSubscription, Project
from evaluations.services import alerts, findings
from trackerapp.celery import app as celery_app

log = logging.getLogger(__name__)


@login_required
def home(request):
    projects = Project.objects.filter(members=request.user).order_by("name")
    overview = [(project, selectors.models_for(project=project)) for project in projects]
    return render(request, "evaluations/home.html", {"overview": overview})


@login_required
def run_page(request, run_id):
    project = Project.objects.filter(runs__pk=run_id, members=request.user).first()
    if project is None:
        raise Http404("No such run.")
    run = selectors.get_run(project=project, run_id=run_id)
    return render(request, "evaluations/run.html", {"run": run, "project": project})


@login_required
def finding_page(request, finding_id):
    project = Project.objects.filter(
        models__series__findings__pk=finding_id, members=request.user
    ).first()
    if project is None:
        raise Http404("No such finding.")
    finding = selectors.get_finding(project=project, finding_id=finding_id)
    if request.method == "POST" and request.POST.get("action") in findings.TRANSITIONS:
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
        "notifications": finding.notifications.order_by("-created_at"),
        "points": selectors.series_points(series=finding.series, limit=30),
    }
    return render(request, "evaluations/finding.html", context)


@csrf_exempt  # the link in an e-mail works without a session (RFC 8058 one-click POST)
def unsubscribe(request, token):
    if request.method == "POST":
        outcome = alerts.unsubscribe(token=token)
        if outcome is None:
            return render(request, "evaluations/unsubscribe.html", {"invalid": True}, status=400)
        subscription, address = outcome
        return render(
            request, "evaluations/unsubscribe.html",
            {"done": True, "subscription": subscription, "address": address},
        )  # fmt: skip
    return render(request, "evaluations/unsubscribe.html", {"token": token})


@login_required
def project_settings(request, project_name):
    project = Project.objects.filter(name=project_name, members=request.user).first()
    if project is None:
        raise Http404("No such project.")
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


@never_cache
@require_GET
def healthz(request):
    database = _database_status()
    broker = _broker_status()
    healthy = database == "ok"
    body = {
        "status": ("ok" if broker in ("ok", "in-process") else "degraded") if healthy else "down",
        "database": database,
        "broker": broker,
    }
    return JsonResponse(body, status=200 if healthy else 503)


def _database_status():
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return "ok"
    except Exception as exc:  # any failure means "down"; the reason goes to the log
        log.warning("health check: database unavailable: %s", exc)
        return "unavailable"


def _broker_status():
    if celery_app.conf.task_always_eager:
        return "in-process"
    try:
        with celery_app.connection_for_write(celery_app.conf.broker_url) as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, timeout=2)
        return "ok"
    except Exception as exc:
        log.warning("health check: broker unavailable: %s", exc)
        return "unavailable"
