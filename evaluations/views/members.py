"""The project's members page: everyone sees who is in the team and in which role; owners add
existing users (by username or e-mail), change roles and remove members."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import redirect, render

from evaluations.forms import MemberAddForm, MemberRoleForm
from evaluations.models import Membership
from evaluations.services import projects as project_services
from evaluations.views.access import member_project, require_role, role_in

OWNERS = (Membership.Role.OWNER,)


@login_required
def project_members(request, project_name):
    project = member_project(request, name=project_name)
    context = {
        "project": project,
        "may_manage": role_in(project, request.user) == Membership.Role.OWNER,
        "add_form": MemberAddForm(),
    }
    if request.method != "POST":
        return _render(request, context)
    require_role(request, project, OWNERS, "manage members")
    try:
        done = _change(request, project, context)
    except project_services.MembershipError as exc:
        context["problem"] = next(iter(exc.errors.values()))[0]
        return _render(request, context, status=400)
    if done is None:  # a form to show again: invalid, or a removal to confirm
        return _render(request, context, status=400 if "confirm" not in context else 200)
    messages.success(request, done)
    return redirect("project-members", project_name=project.name)


def _change(request, project, context):
    """Apply the posted change; its message, or None when the page must be shown again."""
    if "add" in request.POST:
        context["add_form"] = form = MemberAddForm(request.POST)
        if not form.is_valid():
            return None
        membership = project_services.add_member(
            project=project, username_or_email=form.cleaned_data["user"],
            role=form.cleaned_data["role"],
        )  # fmt: skip
        return f"{membership.user.get_username()} added as {membership.role}."
    form = MemberRoleForm(request.POST)
    if not form.is_valid():
        context["problem"] = "Choose a member and a role."
        return None
    user_id, role = form.cleaned_data["user_id"], form.cleaned_data["role"]
    if "remove" in request.POST:
        return _remove(request, project, context, user_id)
    membership = project_services.set_role(project=project, user_id=user_id, role=role)
    return f"{membership.user.get_username()} is now {role}."


def _remove(request, project, context, user_id):
    if request.POST.get("confirm") != "yes":
        membership = project.membership_set.filter(user_id=user_id).select_related("user").first()
        if membership is None:
            raise Http404("Not found.")
        context["confirm"] = membership
        return None
    membership = project_services.remove_member(project=project, user_id=user_id)
    return f"{membership.user.get_username()} removed from {project.name}."


def _render(request, context, status=200):
    memberships = context["project"].membership_set.select_related("user")
    context["memberships"] = memberships.order_by("user__username")
    context["roles"] = Membership.Role.values
    return render(request, "evaluations/project_members.html", context, status=status)
