"""Deployment files: docker-compose runs the documented scripts; production settings pass
Django's deploy check."""

import os
import re
import secrets
import subprocess
import sys

import pytest
import yaml

from tests.conftest import ROOT


def compose():
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_has_the_stack_services():
    services = compose()["services"]

    assert set(services) == {"postgres", "redis", "mailpit", "web", "worker", "beat"}
    for name in ("web", "worker", "beat"):
        env = services[name]["environment"]
        assert env["DATABASE_URL"].startswith("postgres://")
        assert "@postgres:5432/" in env["DATABASE_URL"]
        assert env["CELERY_BROKER_URL"] == "redis://redis:6379/0"
        assert env["CACHE_URL"] == "redis://redis:6379/1"
        assert env["EMAIL_HOST"].endswith("mailpit}")
        assert env["DEBUG"] == "0"
        assert set(services[name]["depends_on"]) == {"postgres", "redis"}
    assert services["web"]["ports"] == ["8000:8000"]


def test_compose_commands_are_the_projects_scripts_and_documented():
    services = compose()["services"]
    readme = (ROOT / "README.md").read_text()
    makefile = (ROOT / "Makefile").read_text()

    for name in ("web", "worker", "beat"):
        command = services[name]["command"]
        assert command == [f"scripts/{name}"]
        script = ROOT / command[0]
        assert script.exists() and os.access(script, os.X_OK)
        assert f"scripts/{name}" in readme
        assert f"scripts/{name}" in makefile
    assert "gunicorn trackerapp.wsgi:application" in (ROOT / "scripts/web").read_text()
    assert "celery -A trackerapp worker" in (ROOT / "scripts/worker").read_text()
    assert "celery -A trackerapp beat" in (ROOT / "scripts/beat").read_text()


def test_compose_restarts_the_processes_and_the_scripts_supervise_worker_and_beat():
    services = compose()["services"]

    for name in ("web", "worker", "beat"):
        assert services[name]["restart"] == "unless-stopped"
    assert services["worker"]["stop_grace_period"] == "30s"
    for name in ("worker", "beat"):
        script = (ROOT / "scripts" / name).read_text()
        assert re.search(
            rf'^exec python "\$\(dirname "\$0"\)/supervise.py" \\\n\s+celery -A trackerapp {name} ',
            script, re.M,
        ), script  # fmt: skip
    assert "exec gunicorn" in (ROOT / "scripts/web").read_text()  # gunicorn keeps its own workers


def test_compose_worker_scales_out_with_docker_compose_scale():
    services = compose()["services"]
    worker = services["worker"]

    # `--scale worker=N` starts N copies: a container name, a fixed host port or a host name
    # (Celery names its node after it) can each belong to one of them only.
    for one_of_a_kind in ("container_name", "ports", "hostname", "network_mode"):
        assert one_of_a_kind not in worker
    assert "healthcheck" not in worker  # none to fail on a copy; /healthz watches workers
    assert not worker.get("deploy", {}).get("replicas")  # the command line decides how many
    assert worker["environment"]["WORKER_CONCURRENCY"] == "${WORKER_CONCURRENCY:-2}"
    assert '--concurrency "${WORKER_CONCURRENCY:-2}"' in (ROOT / "scripts/worker").read_text()
    # Every copy reaches the same database and broker, by service name.
    assert (
        worker["environment"]["CELERY_BROKER_URL"]
        == services["web"]["environment"]["CELERY_BROKER_URL"]
    )
    assert "--scale worker=" in (ROOT / "README.md").read_text()


def test_dockerfile_installs_requirements_and_runs_the_web_script():
    dockerfile = (ROOT / "Dockerfile").read_text()

    assert re.search(r"^FROM python:3\.11", dockerfile, re.M)
    assert "pip install --no-cache-dir -r requirements.txt" in dockerfile
    assert 'CMD ["scripts/web"]' in dockerfile


def test_deploy_check_is_clean_with_production_settings():
    env = {
        **os.environ,
        "DEBUG": "0",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": "metrics.example.com",
    }

    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip

    assert result.returncode == 0, result.stdout + result.stderr


def test_production_settings_refuse_to_start_without_a_secret_key():
    env = {k: v for k, v in os.environ.items() if k != "SECRET_KEY"}
    env["DEBUG"] = "0"

    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip

    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


@pytest.mark.worker
def test_cache_url_shares_the_cache_through_redis():
    env = {
        **os.environ,
        "CACHE_URL": os.environ["CELERY_BROKER_URL"],
        "DJANGO_SETTINGS_MODULE": "trackerapp.settings",
    }
    script = (
        "import django; django.setup(); from django.core.cache import caches; "
        "cache = caches['default']; print(type(cache).__name__); "
        "cache.set('probe', 'shared', 30); print(cache.get('probe'))"
    )

    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["RedisCache", "shared"]


def test_compose_passes_on_the_observability_settings():
    services = compose()["services"]

    for name in ("web", "worker", "beat"):
        env = services[name]["environment"]
        assert env["LOG_FORMAT"] == "${LOG_FORMAT:-json}"
        assert env["METRICS_TOKEN"] == "${METRICS_TOKEN:-}"
        assert env["SENTRY_DSN"] == "${SENTRY_DSN:-}"
    web = (ROOT / "scripts/web").read_text()
    assert "export PROMETHEUS_MULTIPROC_DIR=" in web
    assert "--config python:trackerapp.gunicorn_config" in web
