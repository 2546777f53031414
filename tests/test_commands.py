"""Management commands: create_token and setup_demo."""

import io
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from evaluations.models import ApiToken, Project
from tests.conftest import client_for


def run_command(*args):
    out, err = io.StringIO(), io.StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_create_token_creates_the_project_and_prints_a_working_token_last(db, run_body):
    out, err = run_command("create_token", "vision-team", "--name", "github-actions")

    secret = out.strip().splitlines()[-1]
    assert Project.objects.filter(name="vision-team").exists()
    assert "Created project vision-team" in err
    token = ApiToken.objects.get()
    assert token.name == "github-actions"
    assert token.digest != secret
    response = client_for(secret).post("/api/v1/runs/", run_body, format="json")
    assert response.status_code == 201


def test_create_token_for_an_existing_project_adds_a_token(db):
    run_command("create_token", "vision-team")
    first = ApiToken.objects.get()

    out, err = run_command("create_token", "vision-team")

    assert Project.objects.count() == 1
    assert ApiToken.objects.count() == 2
    assert "Created project" not in err
    assert out.strip() != first.prefix


def test_create_token_refuses_a_project_name_that_is_not_a_slug(db):
    with pytest.raises(CommandError, match="slug"):
        run_command("create_token", "Vision Team!")


def test_setup_demo_prints_a_login_and_a_token_that_work(client, db):
    out, _ = run_command("setup_demo")

    password = out.split("login: demo / ")[1].split(")")[0]
    secret = out.split("API token: ")[1].split()[0]
    assert client.login(username="demo", password=password)
    assert client_for(secret).get("/api/v1/models/").status_code == 200


def test_create_token_makes_ingest_tokens_unless_told_admin(db, run_body):
    ingest = run_command("create_token", "vision-team")[0].strip().splitlines()[-1]
    out, err = run_command("create_token", "vision-team", "--scope", "admin")
    admin = out.strip().splitlines()[-1]

    assert "(admin)" in err
    pin = {"dataset": "holdout", "version": "1.4.0"}
    client_for(admin).post("/api/v1/runs/", run_body, format="json")
    refused = client_for(ingest).put("/api/v1/models/fraud-detector/baseline/", pin, format="json")
    allowed = client_for(admin).put("/api/v1/models/fraud-detector/baseline/", pin, format="json")
    assert (refused.status_code, allowed.status_code) == (403, 200)


def test_create_token_with_an_expiry_and_refuses_a_bad_one(db):
    _, err = run_command("create_token", "vision-team", "--expires-in-days", "30")

    token = ApiToken.objects.get()
    days = (token.expires_at - token.created_at).total_seconds() / 86400
    assert 29.99 < days < 30.01
    assert f"expires {token.expires_at:%Y-%m-%d}" in err
    for bad in ("0", "-3", "soon"):
        with pytest.raises(CommandError, match="expires-in-days"):
            run_command("create_token", "vision-team", "--expires-in-days", bad)
    with pytest.raises(CommandError, match="scope"):
        run_command("create_token", "vision-team", "--scope", "root")
    assert ApiToken.objects.count() == 1


def test_setup_demo_revokes_the_token_it_made_before(client, db):
    first, _ = run_command("setup_demo")
    second, _ = run_command("setup_demo")

    old = first.split("API token: ")[1].split()[0]
    new = second.split("API token: ")[1].split()[0]
    assert client_for(old).get("/api/v1/models/").status_code == 401
    assert client_for(new).get("/api/v1/models/").status_code == 200
    tokens = ApiToken.objects.order_by("pk")
    assert [(t.name, t.revoked_at is not None) for t in tokens] == [
        ("make-run-demo", True),
        ("make-run-demo", False),
    ]


def test_setup_demo_leaves_other_tokens_of_the_demo_project_alone(client, db):
    out, _ = run_command("create_token", "demo", "--name", "github-actions")
    run_command("setup_demo")
    run_command("setup_demo")

    assert client_for(out.strip().splitlines()[-1]).get("/api/v1/models/").status_code == 200


def test_make_run_prints_the_login_and_token_last_after_the_demo_data(db):
    recipe = _make_target("run")
    commands = [line.split("manage.py ")[1].split()[0] for line in recipe if "manage.py" in line]

    assert commands == ["migrate", "seed_demo", "setup_demo", "runserver"]
    out, _ = run_command("setup_demo")
    lines = out.strip().splitlines()
    assert lines[-1].startswith("API token: mt_")
    assert "login: demo / " in lines[-3]


def _make_target(name):
    """The recipe lines of a Makefile target."""
    lines = (Path(__file__).resolve().parent.parent / "Makefile").read_text().splitlines()
    start = next(
        i for i, line in enumerate(lines) if line.startswith(f"{name}:") and "=" not in line
    )
    recipe = []
    for line in lines[start + 1 :]:
        if not line.startswith("\t"):
            break
        recipe.append(line)
    return recipe
