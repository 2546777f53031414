"""Project pages: the overview, the project's settings and its API tokens."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import BadRequest, PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache

from evaluations import selectors
from evaluations.analysis.sensitivity import SENSITIVITIES, measured_figures
from evaluations.forms import BranchSettingsForm, ChannelForm, SensitivityForm, TokenForm
from evaluations.models import Channel, Membership, Project
from evaluations.services import alerts, branches
from evaluations.services import projects as project_services
from evaluations.views.access import WRITERS, member_project, posted_id, require_role, role_in

OWNERS = (Membership.Role.OWNER,)


@login_required
def home(request):
    projects = Project.objects.filter(members=request.user).order_by("name")
    overview = [(project, selectors.models_for(project=project)) for project in projects]
    return render(request, "evaluations/home.html", {"overview": overview})


@login_required
def project_settings(request, project_name):
    """The alert channels (members change and test them) and the branch settings (owners)."""
    project = member_project(request, name=project_name)
    form = ChannelForm()
    branch_form = BranchSettingsForm.of(project)
    if request.method == "POST" and {"sensitivity", "save_sensitivity"} & set(request.POST):
        return _set_sensitivity(request, project)
    if request.method == "POST" and "branch_settings" in request.POST:
        require_role(request, project, OWNERS, "change the branch settings")
        branch_form = BranchSettingsForm(request.POST)
        if branch_form.is_valid():
            branches.update_settings(project=project, **branch_form.cleaned_data)
            messages.success(request, "Branch settings saved.")
            return redirect("project-settings", project_name=project.name)
    elif request.method == "POST":
        require_role(request, project, WRITERS, "change the alert channels")
        if "delete" in request.POST:
            Channel.objects.filter(project=project, pk=posted_id(request.POST["delete"])).delete()
            return redirect("project-settings", project_name=project.name)
        if "test" in request.POST:
            return _test_channel(request, project, posted_id(request.POST["test"]))
        form = ChannelForm(request.POST)
        if form.is_valid():
            alerts.save_channel(project=project, **form.channel_fields())
            return redirect("project-settings", project_name=project.name)
    role = role_in(project, request.user)
    return render(
        request, "evaluations/project_settings.html",
        {
            "project": project,
            "form": form,
            "branch_form": branch_form,
            "channels": Channel.objects.filter(project=project).order_by("name", "pk"),
            "sensitivities": _sensitivity_choices(project),
            "may_write": role in WRITERS,
            "may_own": role in OWNERS,
        },
    )  # fmt: skip


def _set_sensitivity(request, project):
    require_role(request, project, OWNERS, "change the analysis' sensitivity")
    form = SensitivityForm(request.POST)
    if not form.is_valid():
        raise BadRequest(f"sensitivity: {' '.join(form.errors['sensitivity'])}")
    queued = project_services.set_sensitivity(
        project=project, name=form.cleaned_data["sensitivity"]
    )
    messages.success(
        request,
        f"Sensitivity {project.sensitivity}: {len(queued)} series queued for analysis under it."
        if queued else f"Sensitivity {project.sensitivity}, as it was.",
    )  # fmt: skip
    return redirect("project-settings", project_name=project.name)


# What the detection benchmark's keys mean, in words (sensitivity_figures.json; a key not here
# is shown as it is written).
FIGURE_WORDS = {
    "false_alarms_per_1000": "false alarms per 1,000 points",
    "white": "white noise",
    "t3": "heavy tails (Student t, 3 df)",
    "outliers": "lone outliers",
    "ar1": "correlated noise (AR(1), φ 0.5)",
    "hetero": "uneven noise",
    "recall": "found",
    "median_delay": "median delay in points",
    "step_1sigma": "1\N{GREEK SMALL LETTER SIGMA} step",
    "step_2sigma": "2\N{GREEK SMALL LETTER SIGMA} step",
    "drift_2sigma_50": "2\N{GREEK SMALL LETTER SIGMA} drift over 50 versions",
    "drift_2sigma_50_found_within_33": (
        "2\N{GREEK SMALL LETTER SIGMA} drift over 50 versions found within 33"
    ),
    "seeds": "benchmark seeds",
    "series_per_scenario": "series per case",
}
SHARES = {"recall", "drift_2sigma_50_found_within_33"}  # shown as percentages


def _sensitivity_choices(project) -> list[dict]:
    """Each setting with what the detection benchmark measured of it, whatever it measured:
    ``figures`` is a list of (what, [(under what, value)]) in the order measured (a figure
    with a single value has no "under what")."""
    measured = measured_figures()
    choices = []
    for name in SENSITIVITIES:
        figures = []
        for key, value in measured.get(name, {}).items():
            cases = value.items() if isinstance(value, dict) else [("", value)]
            share = key in SHARES
            figures.append(
                (_words(key), [(_words(case), _figure(v, share=share)) for case, v in cases])
            )
        choices.append({"name": name, "current": name == project.sensitivity, "figures": figures})
    return choices


def _words(key) -> str:
    return FIGURE_WORDS.get(key, key.replace("_", " "))


def _figure(value, *, share=False) -> str:
    """A measured figure in three significant digits (0.93, 1.4, 0.0005), a share as a
    percentage, a list as its items, or as stored."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"{value:.0%}" if share else f"{value:.3g}"
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    return str(value)


def _test_channel(request, project, channel_id):
    channel = Channel.objects.filter(project=project, pk=channel_id).first()
    if channel is None:
        raise Http404("No such channel.")
    outcome = alerts.send_test(channel=channel)
    if outcome.delivered:
        messages.success(request, f"Test message sent through {channel.name!r}.")
    else:
        messages.error(request, f"The test message through {channel.name!r} failed: "
                                f"{outcome.error}")  # fmt: skip
    return redirect("project-settings", project_name=project.name)


@never_cache  # the answer to a creation carries the new secret: no cache may keep it
@login_required
def project_tokens(request, project_name):
    """The project's API tokens: every member sees them (never their secrets); owners create
    them (the secret is shown once, in the answer to the creation) and revoke them, after a
    confirmation."""
    project = member_project(request, name=project_name)
    may_manage = project_services.may_manage_tokens(project=project, user=request.user)
    context = {"project": project, "may_manage": may_manage, "form": TokenForm()}
    if request.method == "POST":
        if not may_manage:
            raise PermissionDenied("Only the project's owners manage its tokens.")
        if "revoke" in request.POST:
            return _revoke_token(request, project, context)
        context["form"] = form = TokenForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            context["new_token"], context["new_secret"] = project_services.create_token(
                project=project, name=data["name"], created_by=request.user,
                scope=data["scope"], expires_in_days=data["expires_in_days"],
            )  # fmt: skip
            context["form"] = TokenForm()
    return _render_tokens(request, context)


def _revoke_token(request, project, context):
    token = project.tokens.filter(pk=posted_id(request.POST["revoke"])).first()
    if token is None:
        raise Http404("Not found.")
    if request.POST.get("confirm") != "yes":
        context["confirm"] = token
        return _render_tokens(request, context)
    project_services.revoke_token(project=project, token_id=token.pk, by=request.user)
    messages.success(request, f"Token {token.name or token.prefix} revoked: the API refuses it.")
    return redirect("project-tokens", project_name=project.name)


def _render_tokens(request, context):
    tokens = context["project"].tokens.select_related("created_by", "revoked_by")
    context["tokens"] = tokens.order_by("-created_at", "-pk")
    return render(request, "evaluations/project_tokens.html", context)
