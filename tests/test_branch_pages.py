"""The pages of branches and environments: the model page's line selectors, its charts drawn
over another line and its table of branches; the project's branch settings (owners only);
compare and pin carrying the branch."""

import re
from html import unescape

import pytest

from evaluations.models import BaselinePin, Branch, EvaluationRun, Membership, Project, Series
from evaluations.services import projects
from tests.histories import pin_baseline, post_branched_history
from tests.test_dashboard_pages import chart_data, counted_get

MODEL_PAGE = "/projects/acme/models/fraud-detector/"
SETTINGS = "/projects/acme/settings/"


@pytest.fixture
def branched(api, django_capture_on_commit_callbacks):
    """``histories.post_branched_history``, analysed as its posts commit."""
    with django_capture_on_commit_callbacks(execute=True):
        post_branched_history(api)


def html_of(response):
    assert response.status_code == 200, response.content.decode()[:500]
    return response.content.decode()


def options(html, select_id):
    """(value, text) of each option of a select, in order (optgroups included)."""
    select = re.search(rf'<select[^>]*id="{select_id}"[^>]*>(.*?)</select>', html, re.S).group(1)
    return [
        (unescape(value), unescape(text).strip())
        for value, text in re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)</option>', select)
    ]


def selected(html, select_id):
    select = re.search(rf'<select[^>]*id="{select_id}"[^>]*>(.*?)</select>', html, re.S).group(1)
    return [unescape(v) for v in re.findall(r'<option value="([^"]*)" selected', select)]


def branch_table(html):
    """{branch: {"badges", "head", "head_url", "verdict", "url"}} from the branch tables."""
    rows = {}
    for row in re.findall(r"<tr[^>]*>\s*<th scope=\"row\"><a href=.*?</tr>", html, re.S):
        url, name = re.search(r'<a href="([^"]*)">([^<]*)</a>', row).groups()
        cells = re.findall(r"<td>(.*?)</td>", row, re.S)
        head = re.search(r'<a href="([^"]*)">([^<]*)</a>', cells[0])
        verdict = re.sub(r"<[^>]+>", "", cells[1])
        rows[unescape(name)] = {
            "url": unescape(url),
            "badges": re.findall(r'<span class="badge"[^>]*>([^<]*)</span>', row),
            "head": head and head.group(2),
            "head_url": head and head.group(1),
            "verdict": " ".join(verdict.split()),
        }
    return rows


def test_a_pull_request_is_drawn_over_main_with_its_runs_named(member, branched):
    main = chart_data(member.get(MODEL_PAGE))
    response = member.get(MODEL_PAGE, {"branch": "feature/x", "over": "main"})

    html, data = html_of(response), chart_data(response)
    assert data["line"] == {"branch": "feature/x", "environment": "offline"}
    assert data["over"] == {"branch": "main", "environment": "offline"}
    # One x axis: main's 40 runs and the branch's 3 in time order, each named by branch.
    runs = data["runs"]
    assert runs["at"] == sorted(runs["at"])
    on_branch = [i for i, branch in enumerate(runs["branch"]) if branch == "feature/x"]
    on_main = [i for i, branch in enumerate(runs["branch"]) if branch == "main"]
    assert [runs["version"][i] for i in on_branch] == ["pr-7.0", "pr-7.1", "pr-7.2"]
    assert len(on_main) == 40 and on_branch[0] < on_main[-1]  # interleaved by time
    (accuracy,) = data["metrics"][0]["series"]
    assert [accuracy["value"][i] for i in on_branch] == [0.91] * 3
    assert {accuracy["value"][i] for i in on_main} == {None}
    # Beneath it, main's own values at main's runs (as main's page draws them) and none at
    # the branch's.
    over = accuracy["over"]["value"]
    assert [over[i] for i in on_main] == main["metrics"][0]["series"][0]["value"]
    assert {over[i] for i in on_branch} == {None}
    assert accuracy["over"]["n"][0] == 10000
    (latency,) = data["metrics"][1]["series"]
    assert latency["over"]["ci_low"][0] == 39.0
    # The header names the line; the branch has no baseline of its own: main's judges it.
    assert "on feature/x, offline" in html
    assert "drawn over main</span>" in html
    assert data["baseline_branch"] == "main"
    assert "judged against main's baseline, 1.10" in html
    assert accuracy["baseline"]["version"] == "1.10"
    assert "max_drop" in {limit["kind"] for limit in accuracy["thresholds"]}


def test_the_default_line_is_drawn_alone_and_says_nothing_of_lines(member, branched):
    html = html_of(member.get(MODEL_PAGE))
    data = chart_data(member.get(MODEL_PAGE))

    assert (data["over"], data["baseline_branch"]) == (None, "main")
    assert data["runs"]["branch"] == ["main"] * 40
    assert data["metrics"][0]["series"][0]["over"] is None
    assert 'id="line-shown"' not in html and 'id="baseline-branch"' not in html
    assert 'id="over-default"' not in html  # nothing to draw main over


def test_production_is_drawn_over_offline_for_the_same_versions(member, branched):
    response = member.get(MODEL_PAGE, {"environment": "production", "over_environment": "offline"})

    html, data = html_of(response), chart_data(response)
    assert data["line"] == {"branch": "main", "environment": "production"}
    assert data["over"] == {"branch": "main", "environment": "offline"}
    (accuracy,) = data["metrics"][0]["series"]
    shown = [i for i, value in enumerate(accuracy["value"]) if value is not None]
    # A version evaluated in both environments is one place on the axis, with both values.
    assert [data["runs"]["version"][i] for i in shown] == [f"1.{i}" for i in range(35, 40)]
    assert len(data["runs"]["version"]) == 40
    assert all(accuracy["over"]["value"][i] is not None for i in shown)
    assert all(accuracy["value"][i] < accuracy["over"]["value"][i] for i in shown)
    # main's baseline is an offline run's: not drawn on production's numbers.
    assert accuracy["baseline"] is None and data["baseline_version"] is None
    assert "on main, production" in html and "drawn over offline</span>" in html
    assert selected(html, "environment-select") == ["production"]
    assert selected(html, "over-environment-select") == ["offline"]
    # The overlay offers the other environments only.
    assert [v for v, _ in options(html, "over-environment-select")] == [
        "", "offline", "shadow", "canary"
    ]  # fmt: skip


def test_the_selectors_offer_every_branch_and_environment(member, branched):
    html = html_of(member.get(MODEL_PAGE, {"branch": "feature/x", "over": "main"}))

    branches = options(html, "branch-select")
    # The default first (its value empty: the URL leaves it out), then by latest run; the
    # archived branch last, in a group of its own.
    assert branches == [
        ("", "main"),
        ("feature/x", "feature/x"),
        ("release/2", "release/2"),
        ("feature/done", "feature/done (merged)"),
        ("feature/old", "feature/old"),
    ]
    assert re.search(r'<optgroup label="Archived"><option value="feature/old"', html)
    assert selected(html, "branch-select") == ["feature/x"]
    assert options(html, "environment-select") == [
        ("", "offline"), ("shadow", "shadow"), ("canary", "canary"), ("production", "production")
    ]  # fmt: skip
    assert re.search(
        r'<input type="checkbox" name="over" value="main" id="over-default"\s+checked', html
    )
    unticked = html_of(member.get(MODEL_PAGE, {"branch": "feature/x"}))
    assert re.search(r'id="over-default"\s+>', unticked)
    assert chart_data(member.get(MODEL_PAGE, {"branch": "feature/x"}))["over"] is None


def test_the_branch_table_shows_heads_verdicts_and_badges(member, branched):
    html = html_of(member.get(MODEL_PAGE))
    table = branch_table(html)

    head = {name: row["head"] for name, row in table.items()}
    assert head == {"main": "1.39", "feature/x": "pr-7.2", "release/2": "2.0rc.1",
                    "feature/done": "pr-5.0", "feature/old": "pr-1.0"}  # fmt: skip
    badges = {name: row["badges"] for name, row in table.items()}
    assert badges["main"] == ["default"]
    assert badges["release/2"] == ["long-lived"]
    assert badges["feature/x"] == []
    assert re.fullmatch(r"merged \d{4}-\d\d-\d\d", badges["feature/done"][0])
    assert badges["feature/old"] == ["archived"]
    assert table["feature/x"]["verdict"] == "failed against main"
    assert table["release/2"]["verdict"] == "passed against main"
    # Archived branches are folded away, in a table of their own.
    archived = html[html.index('<details id="archived-branches">') :]
    assert "1 archived branch " in archived and "feature/old" in archived
    assert '<details id="archived-branches" open' not in html
    assert (
        "feature/old"
        not in html[: html.index('<details id="archived-branches">')].split('id="branches"')[1]
    )


def test_every_link_of_the_branch_table_opens(member, branched):
    table = branch_table(html_of(member.get(MODEL_PAGE)))

    for name, row in table.items():
        # The head is the latest offline run (main's production runs are newer).
        runs = EvaluationRun.objects.filter(branch=name, environment="offline")
        run = runs.order_by("-recorded_at", "-id").first()
        assert row["head_url"] == f"/runs/{run.pk}/"
        assert member.get(row["head_url"]).status_code == 200
        page = member.get(row["url"])
        data = chart_data(page)
        assert data["line"]["branch"] == name, name
        # Any branch but the default opens drawn over it, without the defaults in its URL.
        assert data["over"] == (
            None if name == "main" else {"branch": "main", "environment": "offline"}
        )
    assert table["main"]["url"] == MODEL_PAGE
    assert table["feature/x"]["url"] == MODEL_PAGE + "?branch=feature%2Fx&over=main"


def test_every_link_the_model_page_builds_on_a_branch_opens(member, branched):
    html = html_of(member.get(MODEL_PAGE, {"branch": "feature/x", "over": "main"}))

    hrefs = {unescape(h) for h in re.findall(r'href="(/[^"]*)"', html)} - {"/logout/"}
    hrefs = {h for h in hrefs if not h.startswith("/static/")}
    assert any("/compare/" in h and "branch=feature%2Fx" in h for h in hrefs)
    for href in sorted(hrefs):
        assert member.get(href, follow=True).status_code == 200, href


def test_switching_to_a_line_without_the_dataset_shows_its_latest_with_a_warning(member, branched):
    response = member.get(
        MODEL_PAGE, {"branch": "feature/x", "dataset": "holdout", "dataset_version": "v9"},
        follow=True,
    )  # fmt: skip
    unknown = html_of(member.get(MODEL_PAGE, {"branch": "no-such-branch"}))

    assert "No results on holdout on feature/x, offline: showing holdout@v1." in html_of(response)
    assert chart_data(response)["line"]["branch"] == "feature/x"
    assert "No results on no-such-branch, offline." in unknown
    assert (
        member.get(MODEL_PAGE, {"dataset": "holdout", "dataset_version": "v9"}).status_code == 404
    )


def test_a_branch_with_its_own_baseline_is_judged_by_it(member, api, branched):
    pin_baseline(api, "pr-7.0", branch="feature/x")

    response = member.get(MODEL_PAGE, {"branch": "feature/x", "over": "main"})

    html, data = html_of(response), chart_data(response)
    assert (data["baseline_branch"], data["baseline_version"]) == ("feature/x", "pr-7.0")
    assert 'id="baseline-branch"' not in html
    assert "baseline pr-7.0" in html


def test_the_model_page_on_a_branch_drawn_over_main_costs_a_bounded_number_of_queries(
    member, branched
):
    _, alone = counted_get(member, MODEL_PAGE)
    _, over = counted_get(member, MODEL_PAGE + "?branch=feature%2Fx&over=main")

    assert alone <= 22
    assert over <= alone + 4


# The project's branch settings


def log_in(client, project, role):
    client.force_login(projects.ensure_member(project=project, username=role, role=role))
    return client


def settings_of(project):
    project.refresh_from_db()
    return (
        project.default_branch, project.long_lived_branches, project.analyse_every_branch,
        project.archive_branches_after_days,
    )  # fmt: skip


def test_an_owner_changes_the_branch_settings_and_series_follow(client, project, branched):
    owner = log_in(client, project, Membership.Role.OWNER)
    form = html_of(owner.get(SETTINGS))
    assert 'id="branch-settings-form"' in form
    assert re.search(r"<textarea[^>]*>\s*release/\*\nrelease-\*</textarea>", form)

    saved = owner.post(SETTINGS, {
        "branch_settings": "save", "default_branch": "main",
        "long_lived_branches": "release/*, hotfix-*\nstable", "analyse_every_branch": "on",
        "archive_branches_after_days": "120",
    }, follow=True)  # fmt: skip

    assert "Branch settings saved." in html_of(saved)
    assert settings_of(project) == ("main", ["release/*", "hotfix-*", "stable"], True, 120)
    # Every branch is watched now (and analysed), and none is archived after 120 days.
    assert not Series.objects.filter(watched=False).exists()
    assert "feature/old" in branch_table(html_of(owner.get(MODEL_PAGE)))
    assert 'id="archived-branches"' not in html_of(owner.get(MODEL_PAGE))


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        ("archive_branches_after_days", "0", "greater than or equal to 1"),
        ("archive_branches_after_days", "soon", "Enter a whole number."),
        ("archive_branches_after_days", "99999999999999999999", "less than or equal to 36500"),
        ("default_branch", "", "This field is required."),
        ("default_branch", "main\u0007", "Must not contain control characters."),
        ("long_lived_branches", "x" * 201, "at most 200 characters"),
        ("long_lived_branches", ",".join(f"r{i}" for i in range(51)), "At most 50 patterns."),
    ],
)
def test_bad_branch_settings_are_shown_on_the_form_and_change_nothing(
    client, project, field, value, error
):
    owner = log_in(client, project, Membership.Role.OWNER)
    before = settings_of(project)
    body = {"branch_settings": "save", "default_branch": "main", "long_lived_branches": "",
            "archive_branches_after_days": "30", field: value}  # fmt: skip

    response = owner.post(SETTINGS, body)

    assert response.status_code == 200
    assert error in unescape(response.content.decode())
    assert settings_of(project) == before


@pytest.mark.parametrize("role", [Membership.Role.MEMBER, Membership.Role.VIEWER])
def test_only_owners_change_the_branch_settings(client, project, role):
    user = log_in(client, project, role)
    before = settings_of(project)

    page = html_of(user.get(SETTINGS))
    refused = user.post(SETTINGS, {"branch_settings": "save", "default_branch": "trunk",
                                   "archive_branches_after_days": "5"})  # fmt: skip

    assert 'id="branch-settings-form"' not in page
    assert 'id="branch-settings-read-only"' in page and "release/*" in page
    assert refused.status_code == 403
    assert settings_of(project) == before
    assert Project.objects.get().default_branch == "main"


# Compare and pin on a branch


def test_compare_on_a_branch_starts_from_main_and_offers_branches(member, branched):
    html = html_of(member.get(MODEL_PAGE + "compare/", {"branch": "feature/x"}))

    assert "on feature/x, offline" in html
    assert [v for v, _ in options(html, "version-a")] == [
        "pr-7.2", "pr-7.1", "pr-7.0", "main", "feature/x", "release/2", "feature/done"
    ]  # fmt: skip
    # Main's head against the branch's, the gate's verdict explained.
    assert selected(html, "version-a") == ["main"] and selected(html, "version-b") == ["pr-7.2"]
    assert "1.39 → pr-7.2 <small>(main → feature/x)</small>" in html
    assert "judged against main's, 1.10" in html
    assert '<input type="hidden" name="branch" value="feature/x">' in html
    typed = html_of(member.get(MODEL_PAGE + "compare/", {"a": "release/2", "b": "feature/x"}))
    assert "2.0rc.1 → pr-7.2" in typed


def test_pinning_from_a_branch_pins_that_branchs_own_baseline(member, branched):
    compare = html_of(member.get(MODEL_PAGE + "compare/", {"branch": "feature/x"}))
    pin_link = unescape(
        re.search(r'href="([^"]*/baseline/\?version=pr-7\.2[^"]*)"', compare).group(1)
    )
    assert "branch=feature/x" in pin_link
    # Main's head, on the other side, would pin main's baseline.
    main_link = re.search(r'href="([^"]*/baseline/\?version=1\.39[^"]*)"', compare).group(1)
    assert "branch=" not in main_link

    confirm = html_of(member.get(pin_link))
    assert "It becomes the baseline of branch <strong>feature/x</strong>, its own" in confirm
    assert "feature/x has no baseline on holdout yet." in confirm
    assert '<input type="hidden" name="branch" value="feature/x">' in confirm
    fields = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', confirm))
    assert member.post(pin_link.split("?")[0], fields, follow=True).status_code == 200

    latest = BaselinePin.objects.order_by("-pinned_at", "-id").first()
    assert (latest.branch.name, latest.model_version.label) == ("feature/x", "pr-7.2")
    main = BaselinePin.objects.filter(branch=Branch.objects.get(name="main")).get()
    assert main.model_version.label == "1.10"  # main's baseline is untouched
