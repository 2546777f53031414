"""Missed regressions on the pages: the model page's form marks one (members and owners, not
viewers), its list withdraws one, the chart data draws it, and the project's overview and
the model page show recall beside precision."""

import json
import re

import pytest

from evaluations.models import Finding, Membership, MissedRegression, ModelVersion, Series
from evaluations.services import projects
from tests import test_missed_api
from tests.test_missed_api import confirmed_finding

MODEL_PAGE = "/projects/acme/models/fraud-detector/"
MISSED = "/projects/acme/models/fraud-detector/missed/"
SHOWN = {
    "dataset": "holdout",
    "dataset_version": "2024-06",
    "branch": "main",
    "environment": "offline",
    "shown_slice": "overall",
}


history = test_missed_api.history  # the same versions posted (a fixture)


def as_role(client, project, role):
    user = projects.ensure_member(project=project, username=f"user-{role}", role=role)
    client.force_login(user)
    return client


def chart_data(response):
    html = response.content.decode()
    return json.loads(
        re.search(
            r'<script id="chart-data" type="application/json">(.*?)</script>', html, re.S
        ).group(1)
    )


@pytest.mark.parametrize("role", [Membership.Role.MEMBER, Membership.Role.OWNER])
def test_a_member_marks_a_missed_regression_from_the_model_page(client, project, history, role):
    as_role(client, project, role)
    page = client.get(MODEL_PAGE)
    assert 'id="missed-form"' in page.content.decode()

    response = client.post(
        MISSED,
        {
            **SHOWN,
            "metric": "accuracy",
            "slice": "overall",
            "version": "1.4.0",
            "note": "new data source",
        },
        follow=True,
    )

    html = response.content.decode()
    assert response.redirect_chain[-1][0].startswith(f"{MODEL_PAGE}?dataset=holdout")
    assert "should have been found at 1.4.0" in html
    mark = MissedRegression.objects.get()
    assert (mark.series.metric.name, mark.model_version.label, mark.note) == (
        "accuracy",
        "1.4.0",
        "new data source",
    )
    assert mark.created_by == f"user-{role}"
    table = html[html.index('id="missed-marks"') :]
    assert "new data source" in table and "missed</span>" in table
    # The chart draws it at its version.
    accuracy = next(m for m in chart_data(response)["metrics"] if m["name"] == "accuracy")
    assert accuracy["series"][0]["missed"] == [{"version": "1.4.0", "note": "new data source"}]


def test_the_form_names_a_bad_field_and_marks_nothing(client, project, history):
    as_role(client, project, Membership.Role.MEMBER)

    unknown = client.post(
        MISSED,
        {**SHOWN, "metric": "accuracy", "slice": "overall", "version": "9.9.9", "note": "x"},
        follow=True,
    )
    empty = client.post(
        MISSED,
        {**SHOWN, "metric": "accuracy", "slice": "overall", "version": "1.4.0", "note": ""},
        follow=True,
    )

    no_series = client.post(
        MISSED,
        {**SHOWN, "metric": "accuracy", "slice": "country=XX", "version": "1.4.0", "note": "x"},
        follow=True,
    )

    assert "version: accuracy on holdout has no result of version" in unknown.content.decode()
    assert "note: This field is required." in empty.content.decode()
    assert "metric: " in no_series.content.decode()
    assert "country=XX" in no_series.content.decode()
    assert MissedRegression.objects.count() == 0


def test_a_viewer_sees_the_marks_but_may_not_mark_or_withdraw(client, project, history):
    version = ModelVersion.objects.get(label="1.4.0")
    mark = MissedRegression.objects.create(
        series=Series.objects.get(metric__name="accuracy"),
        model_version=version,
        note="seen",
        created_by="ana",
    )
    as_role(client, project, Membership.Role.VIEWER)

    html = client.get(MODEL_PAGE).content.decode()
    refused = client.post(
        MISSED, {**SHOWN, "metric": "accuracy", "slice": "overall", "version": "1.5.0", "note": "x"}
    )
    refused_withdrawal = client.post(MISSED, {**SHOWN, "withdraw": mark.pk})

    assert "seen" in html and 'id="missed-form"' not in html and "Withdraw" not in html
    assert refused.status_code == refused_withdrawal.status_code == 403
    assert MissedRegression.objects.filter(withdrawn_at__isnull=True).count() == 1


def test_a_member_withdraws_a_mark(client, project, history):
    mark = MissedRegression.objects.create(
        series=Series.objects.get(metric__name="accuracy"),
        model_version=ModelVersion.objects.get(label="1.4.0"),
        note="seen",
        created_by="ana",
    )
    as_role(client, project, Membership.Role.MEMBER)

    response = client.post(MISSED, {**SHOWN, "withdraw": mark.pk}, follow=True)

    assert "no longer counts as missed" in response.content.decode()
    mark.refresh_from_db()
    assert mark.withdrawn_by == "user-member"
    assert client.post(MISSED, {**SHOWN, "withdraw": mark.pk}).status_code == 404
    for malformed in ("x", "", "-1", "0", str(2**63), "1\u0000"):
        assert client.post(MISSED, {**SHOWN, "withdraw": malformed}).status_code == 400
    mark.refresh_from_db()
    assert mark.withdrawn_by == "user-member"


def test_a_withdrawn_mark_is_listed_apart_with_who_withdrew_it_and_when(client, project, history):
    accuracy = Series.objects.get(metric__name="accuracy")
    marks = [
        MissedRegression.objects.create(
            series=accuracy,
            model_version=ModelVersion.objects.get(label=label),
            note=note,
            created_by="ana",
        )
        for label, note in (("1.4.0", "withdrawn: a data bug"), ("1.7.0", "still missed"))
    ]
    as_role(client, project, Membership.Role.MEMBER)
    client.post(MISSED, {**SHOWN, "withdraw": marks[0].pk})
    marks[0].refresh_from_db()
    as_role(client, project, Membership.Role.VIEWER)

    response = client.get(MODEL_PAGE)

    html = response.content.decode()
    standing = html[html.index('id="missed-marks"') : html.index('id="withdrawn-marks"')]
    withdrawn = html[html.index('id="withdrawn-marks"') :]
    withdrawn = withdrawn[: withdrawn.index("</table>")]
    assert "still missed" in standing and "a data bug" not in standing
    assert "withdrawn: a data bug" in withdrawn and "1.4.0" in withdrawn
    assert "ana" in withdrawn and "by user-member" in withdrawn
    assert marks[0].withdrawn_at.strftime("%Y-%m-%d %H:%M") in withdrawn
    assert "Withdraw</button>" not in html  # a viewer
    # Only the standing mark is drawn, and counted.
    series = next(m for m in chart_data(response)["metrics"] if m["name"] == "accuracy")
    assert series["series"][0]["missed"] == [{"version": "1.7.0", "note": "still missed"}]
    assert re.search(r"recall <strong>0</strong>.*0 found, 1 missed", html, re.S)


def test_a_page_without_withdrawn_marks_has_no_withdrawn_list(client, project, history):
    as_role(client, project, Membership.Role.MEMBER)

    assert 'id="withdrawn-marks"' not in client.get(MODEL_PAGE).content.decode()


def test_a_non_member_gets_404(client, project, history):
    other, _ = projects.ensure_project(name="globex")
    client.force_login(projects.ensure_member(project=other, username="eve"))

    assert client.post(MISSED, {**SHOWN, "withdraw": 1}).status_code == 404


def test_the_pages_show_recall_beside_precision(client, project, history):
    as_role(client, project, Membership.Role.MEMBER)
    confirmed_finding("1.2.0", "1.3.0")
    confirmed_finding("1.5.0", "1.5.0", metric="f1", status=Finding.Status.FALSE_ALARM)
    MissedRegression.objects.create(
        series=Series.objects.get(metric__name="accuracy"),
        model_version=ModelVersion.objects.get(label="1.8.0"),
        note="late",
        created_by="ana",
    )

    overview = client.get("/projects/acme/").content.decode()
    model = client.get(MODEL_PAGE).content.decode()

    assert re.search(
        r"Alert precision <strong>0.50</strong>.*recall <strong>0.50</strong>"
        r".*1 found, 1 marked as missed",
        overview,
        re.S,
    )
    assert re.search(
        r"precision <strong>0.50</strong>.*recall <strong>0.50</strong>"
        r".*1 found, 1 missed",
        model,
        re.S,
    )


def test_a_mark_a_confirmed_finding_covers_links_the_finding(client, project, history):
    as_role(client, project, Membership.Role.MEMBER)
    MissedRegression.objects.create(
        series=Series.objects.get(metric__name="accuracy"),
        model_version=ModelVersion.objects.get(label="1.3.0"),
        note="found later",
        created_by="ana",
    )
    finding = confirmed_finding("1.2.0", "1.4.0")

    html = client.get(MODEL_PAGE).content.decode()

    assert f'href="/findings/{finding.pk}/">finding {finding.pk}</a>' in html
    assert "recall <strong>1</strong>" in html
