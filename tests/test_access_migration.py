"""The access migration: tokens made before scopes existed keep doing what they did."""

BEFORE = [("evaluations", "0011_run_gate_verdict")]
AFTER = [("evaluations", "0012_access")]


def test_tokens_made_before_scopes_become_admin_and_new_ones_are_ingest(migrator):
    old_apps = migrator.migrate(BEFORE)
    project = old_apps.get_model("evaluations", "Project").objects.create(name="legacy")
    old_apps.get_model("evaluations", "ApiToken").objects.create(
        project=project, prefix="mt_old", digest="0" * 64
    )

    new_apps = migrator.migrate(AFTER)
    tokens = new_apps.get_model("evaluations", "ApiToken").objects
    tokens.create(project_id=project.pk, prefix="mt_new", digest="1" * 64)

    assert dict(tokens.values_list("prefix", "scope")) == {"mt_old": "admin", "mt_new": "ingest"}
    assert tokens.get(prefix="mt_old").expires_at is None
