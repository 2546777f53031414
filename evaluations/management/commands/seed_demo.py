"""A demo project with months of evaluation history, so that a first ``make run`` shows
living dashboards: four models, their metrics per dataset and slice, pinned baselines,
threshold rules, an intended change, and behaviour planted for the trend analysis to find.

Planted, counted back from the latest version (so any ``--versions`` keeps it):

- a slow drift: ``fraud-classifier`` recall (slice ``overall``, on both holdout versions)
  falls by 7 times its noise over the last 20 versions, a step too small to notice each time;
- a step: ``price-regressor`` mae and rmse (``overall``) jump by 6 times their noise
  8 versions ago;
- noise: ``summarizer`` bleu scatters widely, with heavy tails, around a flat level, and
  must raise nothing;
- an intended change: ``ranking-service`` latencies step up 15 versions ago (a larger
  re-ranker); the version is marked, so the analysis starts afresh there.
- seed replicates: ``summarizer``'s latest 6 versions are each evaluated with three seeds
  (42, 7 and 1234), so their points are replicate sets drawn with their spread.

The runs go through the posting service, as CI's posts do, in version order and in one
transaction: each model's rules are set once its first version is stored, its baseline pinned
once the pinned version is and its intended change marked once the marked version is, so the
gate judges every run against the baseline and rules of its time, and the breaches the latest
runs leave are findings. Then every series is analysed here, in the jobs the beat sweep would
make, so the findings exist when the command ends. A project that already has models is left as it
is (the command says so), which makes running it again harmless. The values come from a
fixed seed; only the run times follow the clock (the latest run a few hours ago).
"""

import logging
import zlib
from contextlib import contextmanager
from functools import partial

import numpy as np
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils.text import slugify

from evaluations import selectors
from evaluations.management.demo import (
    BATCH,
    EXPERIMENTS,
    MIN_VERSIONS,
    MODELS,
    PINNED_BY,
    DemoModel,
    experiment_body,
    experiment_window,
    pull_request_bodies,
    run_bodies,
    version_history,
)
from evaluations.models import EvaluationRun, Finding, MetricResult, RegisteredModel, Series
from evaluations.queue import ANALYSIS_CHUNK
from evaluations.services import (
    baselines,
    branches,
    experiments,
    findings,
    gate,
    posting,
    projects,
    series_analysis,
)
from trackerapp.celery import app as celery_app


class Command(BaseCommand):
    help = (
        "Fill a demo project with months of evaluation history (four models, planted drift, "
        "step and noise) and analyse it. Does nothing when the project already has models."
    )

    def add_arguments(self, parser):
        parser.add_argument("--project", default="demo")
        parser.add_argument(
            "--versions", type=int, default=70, help=f"Versions per model (at least {MIN_VERSIONS})"
        )
        parser.add_argument("--seed", type=int, default=20261, help="Seed of the random values")

    def handle(self, *args, project, versions, seed, **options):
        if slugify(project) != project:
            raise CommandError(f"Project names are slugs (letters, digits, - and _): {project!r}")
        if versions < MIN_VERSIONS:
            raise CommandError(
                f"--versions must be at least {MIN_VERSIONS}: the planted changes need the history."
            )
        project_row, _ = projects.ensure_project(name=project)
        if RegisteredModel.objects.filter(project=project_row).exists():
            self.stdout.write(f"Project {project} already has models: nothing seeded.")
            return
        histories = {model.name: version_history(model, versions, seed) for model in MODELS}
        bodies = {m.name: run_bodies(m, histories[m.name], seed) for m in MODELS}
        total = sum(len(model_bodies) for model_bodies in bodies.values())
        progress = Progress(self.stdout, total=total, label="storing runs")
        with jobs_in_process():
            with transaction.atomic():
                for model in MODELS:
                    labels = [label for label, *_ in histories[model.name]]
                    for batch in posts(project_row, model, labels, bodies[model.name]):
                        progress.advance(len(batch), f"storing {model.name}")
                for model in MODELS:
                    post_pull_requests(project_row, model, bodies[model.name], seed)
                post_experiments(project_row, histories, seed)
            series_ids = list(
                Series.objects.filter(model__project=project_row, watched=True)
                .order_by("pk")
                .values_list("pk", flat=True)
            )
            progress.restart(len(series_ids), "analysing series")
            for start in range(0, len(series_ids), ANALYSIS_CHUNK):
                # The jobs the beat sweep would make: the findings that survive
                # false-discovery-rate control in them are those the sweep keeps.
                chunk = series_ids[start : start + ANALYSIS_CHUNK]
                series_analysis.analyse_series(series_ids=chunk)
                progress.advance(len(chunk))
        progress.close()
        self.stdout.write(summary(project_row))


def posts(project, demo: DemoModel, labels: list[str], bodies: list[dict]):
    """Post the model's runs in version order (``labels``: oldest first), in posts of at most
    BATCH runs, setting its rules, pin and mark as soon as the versions they need are stored;
    yields each post's runs."""
    steps = configuration(project, demo, labels)
    pending, by_version = [], {}
    for body in bodies:
        by_version.setdefault(body["version"], []).append(body)
    for index, label in enumerate(labels):
        pending += by_version.get(label, [])
        if index in steps or len(pending) >= BATCH or index == len(labels) - 1:
            for start in range(0, len(pending), BATCH):
                batch = pending[start : start + BATCH]
                posting.post_runs(project=project, payloads=batch)
                yield batch
            pending = []
            for step in steps.get(index, ()):
                step()


def post_pull_requests(project, demo: DemoModel, bodies: list[dict], seed: int):
    """The model's pull requests, each on its branch and judged against main's baseline; a
    merged one marked merged (its merge commit was never evaluated)."""
    for pr, runs in zip(demo.pull_requests, pull_request_bodies(demo, bodies, seed), strict=True):
        posting.post_runs(project=project, payloads=runs)
        if pr.merged:
            branches.merge_branch(
                model=RegisteredModel.objects.get(project=project, name=demo.name),
                name=pr.branch,
                by=PINNED_BY,
            )


def post_experiments(project, histories, seed):
    """One online comparison of each kind on a model's latest versions, its windows posted
    one by one as a serving system would (a canary's traffic following its steps, a bandit's
    following its split)."""
    for kind, model, config, count in EXPERIMENTS:
        labels = [label for label, *_ in histories[model]]
        body = experiment_body(kind, model, config, labels)
        experiment = experiments.create_experiment(project=project, data=body, created_by="demo")
        rng = np.random.default_rng([seed, zlib.crc32(body["name"].encode())])
        for index in range(count):
            experiment.refresh_from_db()
            if experiment.status != "running":
                break
            latest = selectors.latest_decision(experiment=experiment)
            weights = latest.figures.get("allocation") if latest else None
            share = experiment.traffic_steps[experiment.step] / 100
            window = experiment_window(body, index, count, rng, share=share, weights=weights)
            experiments.add_window(experiment=experiment, window=window)


def configuration(project, demo: DemoModel, labels: list[str]) -> dict:
    """The model's rules, baseline pin and intended-change mark, as steps keyed by the index
    of the version after whose runs they are taken."""
    steps = {0: [partial(save_rules, project, demo)]}
    if demo.baseline_versions_ago is not None:
        index = len(labels) - demo.baseline_versions_ago
        steps.setdefault(index, []).append(partial(pin, project, demo, labels[index]))
    if demo.intended is not None:
        index = len(labels) - demo.intended.versions_ago
        steps.setdefault(index, []).append(partial(mark, project, demo, labels[index]))
    return steps


def save_rules(project, demo: DemoModel):
    model = RegisteredModel.objects.get(project=project, name=demo.name)
    for rule in demo.rules:
        baselines.save_rule(model=model, rejudge=False, **rule)
    # Judged once under all the rules: one at a time, a metric whose rule comes later would
    # be judged by the default test meanwhile, and open and resolve a finding for nothing.
    gate.rejudge_latest_runs(model=model)


def pin(project, demo: DemoModel, label: str):
    dataset = demo.datasets[-1]  # pinned on the latest dataset version
    baselines.pin_baseline(
        model=RegisteredModel.objects.get(project=project, name=demo.name),
        dataset_name=dataset.name,
        dataset_version=dataset.version,
        version_label=label,
        pinned_by=PINNED_BY,
        note="Reviewed release; signed off by the model owners.",
    )


def mark(project, demo: DemoModel, label: str):
    findings.mark_change(
        model=RegisteredModel.objects.get(project=project, name=demo.name),
        version_label=label,
        note=demo.intended.note,
        by=PINNED_BY,
    )


@contextmanager
def jobs_in_process():
    """The analysis jobs that storing schedules run in this process, not on a worker: the
    demo needs no broker and leaves nothing queued. They only repeat the analysis, so their
    log lines (one per job, and kombu's note that no broker host is set) are held back."""
    previous = celery_app.conf.task_always_eager
    loggers = {name: logging.getLogger(name) for name in ("celery.app.trace", "kombu.connection")}
    levels = {name: logger.level for name, logger in loggers.items()}
    celery_app.conf.task_always_eager = True
    for logger in loggers.values():
        logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        celery_app.conf.task_always_eager = previous
        for name, logger in loggers.items():
            logger.setLevel(levels[name])


def summary(project) -> str:
    models = RegisteredModel.objects.filter(project=project)
    kinds = {}
    for kind in Finding.objects.filter(
        series__model__project=project, status__in=Finding.ACTIVE
    ).values_list("kind", flat=True):
        kinds[kind] = kinds.get(kind, 0) + 1
    found = ", ".join(f"{kind}: {count}" for kind, count in sorted(kinds.items())) or "none"
    return (
        f"Seeded project {project.name}: {models.count()} models, "
        f"{EvaluationRun.objects.filter(project=project).count()} runs, "
        f"{MetricResult.objects.filter(run__project=project).count()} results, "
        f"{Series.objects.filter(model__project=project).count()} series; "
        f"open findings: {found}."
    )


class Progress:
    """A one-line progress bar on a terminal; silent elsewhere (pipes, logs, tests)."""

    WIDTH = 30

    def __init__(self, out, *, total, label=""):
        self.out, self.live = out, out.isatty()
        self.restart(total, label)

    def restart(self, total, label):
        self.total, self.done, self.label = max(1, total), 0, label
        self._draw()

    def advance(self, count, label=None):
        self.done += count
        self.label = label or self.label
        self._draw()

    def close(self):
        if self.live:
            self.out.write("")

    def _draw(self):
        if not self.live:
            return
        filled = self.WIDTH * min(self.done, self.total) // self.total
        bar = "#" * filled + "." * (self.WIDTH - filled)
        percent = 100 * min(self.done, self.total) // self.total
        self.out.write(f"\r{self.label:<28} [{bar}] {percent:3d}%", ending="")
        self.out.flush()
