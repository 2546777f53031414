"""The command line CI runs: post a run's results to the tracker (or gate them offline against a
baseline file), show the gate's verdict, write reports, and exit by the verdict.

    python -m trackerclient post results.json --url $TRACKER_URL --token $TRACKER_TOKEN
    python -m trackerclient post results.json --baseline-file baselines.json --junit gate.xml
"""

import argparse
import json
import os
import sys
import uuid
from pathlib import Path

from . import baseline_file, github, gitlab, offline, report
from . import http as tracker_http
from .jsonfile import Fields, InvalidFile, read_object

EXIT_PASSED, EXIT_FAILED, EXIT_ERROR = 0, 1, 2
EXIT_CODES = {"passed": EXIT_PASSED, "no_baseline": EXIT_PASSED, "failed": EXIT_FAILED}

EPILOG = """\
exit codes:
  0  the gate passed, or the model has no baseline yet
  1  the gate failed
  2  nothing was judged: bad arguments, an unreadable or invalid file, the tracker
     unreachable after the retries, or a request it refused (its error is printed)

environment:
  TRACKER_URL, TRACKER_TOKEN   defaults of --url and --token
  GITHUB_TOKEN, GITHUB_REPOSITORY, GITHUB_API_URL, GITHUB_EVENT_PATH, GITHUB_SHA
                               what --github-comment and --github-status use (GitHub
                               Actions sets them; GITHUB_TOKEN must be given to the step)
  GITLAB_TOKEN, CI_API_V4_URL, CI_PROJECT_ID, CI_MERGE_REQUEST_IID, CI_COMMIT_SHA,
  CI_MERGE_REQUEST_SOURCE_BRANCH_SHA, CI_PROJECT_URL
                               what --gitlab-comment and --gitlab-status use (GitLab CI
                               sets them; GITLAB_TOKEN is an access token with api scope)
"""


class UsageError(Exception):
    """The command line cannot work as given."""


def main(argv=None) -> int:
    """Run the command line ``argv`` (default: sys.argv[1:]) and return the exit code."""
    parser = build_parser(os.environ)
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, or a usage error that argparse has printed
        return exc.code if isinstance(exc.code, int) else EXIT_ERROR
    return args.handler(args)


def build_parser(environ) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m trackerclient",
        description="The CI client of the model metrics tracker.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(title="commands", dest="command", required=True)
    post = commands.add_parser(
        "post",
        help="post a run and gate on the verdict",
        description="Post an evaluation run to the tracker and exit by its regression gate's\n"
        "verdict; or, with --baseline-file, gate the run here and post nothing.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    post.set_defaults(handler=run_post)
    post.add_argument(
        "results",
        metavar="results.json",
        help="the run body, exactly as POST /api/v1/runs/ takes it",
    )
    server = _server_arguments(post, environ)
    server.add_argument(
        "--dry-run", action="store_true", help="have the gate evaluated but store nothing"
    )
    local = post.add_argument_group("gating offline")
    local.add_argument(
        "--baseline-file",
        metavar="FILE",
        help="gate against this baseline file (the tracker exports it: GET "
        "/api/v1/models/MODEL/baseline/ with ?dataset=NAME&format=file) and post nothing; "
        "--url and --token are then not needed",
    )
    reports = post.add_argument_group("reports")
    reports.add_argument(
        "--junit", metavar="FILE", help="write the checks as JUnit XML, one test case per check"
    )
    reports.add_argument(
        "--markdown", metavar="FILE", help="write a Markdown summary for a pull-request comment"
    )
    github.add_arguments(post)
    gitlab.add_arguments(post)
    _experiment_commands(commands, environ)
    return parser


def _experiment_commands(commands, environ):
    experiment = commands.add_parser(
        "experiment",
        help="create an online comparison, or post a window of it",
        description="Online comparisons (canary, shadow, interleaving, bandit): create one, or\n"
        "post a window of aggregates and exit by the decision after it (1 for rollback or\n"
        "not_safe, so that a deployment step can stop there).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    actions = experiment.add_subparsers(title="actions", dest="action", required=True)
    create = actions.add_parser("create", help="create an experiment from a JSON file")
    create.add_argument("body", metavar="experiment.json",
                        help="as POST /api/v1/experiments/ takes it")  # fmt: skip
    create.set_defaults(handler=run_experiment_create)
    _server_arguments(create, environ)
    window = actions.add_parser("window", help="post one window and print the decision")
    window.add_argument("experiment_id", type=_count, metavar="ID")
    window.add_argument("body", metavar="window.json",
                        help="as POST /api/v1/experiments/ID/windows/ takes it")  # fmt: skip
    window.set_defaults(handler=run_experiment_window)
    _server_arguments(window, environ)


def _server_arguments(parser, environ):
    """--url, --token and the retry settings, in their own group."""
    server = parser.add_argument_group("the tracker")
    server.add_argument(
        "--url",
        default=environ.get("TRACKER_URL"),
        help="the tracker's address, e.g. https://metrics.example.com (default: $TRACKER_URL)",
    )
    server.add_argument(
        "--token",
        default=environ.get("TRACKER_TOKEN"),
        help="the project's API token (default: $TRACKER_TOKEN)",
    )
    server.add_argument(
        "--retries",
        type=_count,
        default=4,
        metavar="N",
        help="retries after a connection error, a timeout, HTTP 429 or 5xx "
        "(default: 4); a retry never stores anything twice",
    )
    server.add_argument(
        "--timeout",
        type=_timeout,
        default=30.0,
        metavar="SECONDS",
        help="how long to wait for each answer (default: 30)",
    )
    server.add_argument(
        "--backoff",
        type=_seconds,
        default=1.0,
        metavar="SECONDS",
        help="the first wait before a retry, doubled for each next one, up to "
        f"{tracker_http.MAX_BACKOFF:g} s (default: 1); a Retry-After from the "
        "server wins",
    )
    return server


def _count(text):
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be a whole number, 0 or more, not {text!r}")
    return value


def _seconds(text):
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number of seconds, 0 or more, not {text!r}")
    return value


def _timeout(text):
    value = _seconds(text)
    if value == 0:
        raise argparse.ArgumentTypeError("must be more than 0 seconds")
    return value


def run_post(args) -> int:
    try:
        body = read_object(args.results)
        summary = _judge_offline(args, body) if args.baseline_file else _judge_online(args, body)
    except tracker_http.Refused as exc:
        return _error(exc, _error_body(exc.body))
    except (UsageError, InvalidFile, tracker_http.TrackerError) as exc:
        return _error(exc)
    print(report.table(summary), report.verdict_line(summary), sep="\n\n")
    try:
        _write_reports(args, summary)
    except OSError as exc:
        return _error(f"cannot write the report {exc.filename}: {exc.strerror or exc}")
    github.tell(args, summary, body, os.environ, _note)
    gitlab.tell(args, summary, body, os.environ, _note)
    if summary.status not in EXIT_CODES:
        return _error(f"the gate's status {summary.status!r} is unknown to this client")
    return EXIT_CODES[summary.status]


# Decisions after which a deployment should stop.
STOPPING_DECISIONS = ("rollback", "not_safe")


def run_experiment_create(args) -> int:
    answer = _post_json(args, "/api/v1/experiments/")
    if isinstance(answer, int):
        return answer
    body = answer.body
    print(f"Experiment {body.get('id')} ({body.get('kind')} of {body.get('model')}): "
          f"{body.get('url')}")  # fmt: skip
    return EXIT_PASSED


def run_experiment_window(args) -> int:
    answer = _post_json(args, f"/api/v1/experiments/{args.experiment_id}/windows/")
    if isinstance(answer, int):
        return answer
    decision = answer.body.get("decision")
    again = " (already posted: the stored decision)" if answer.status == 200 else ""
    print(f"Decision after window {answer.body.get('window_id')}: {decision}{again}")
    for reason in answer.body.get("reasons") or []:
        print(f"  - {reason}")
    return EXIT_FAILED if decision in STOPPING_DECISIONS else EXIT_PASSED


def _post_json(args, path):
    """The tracker's answer to posting the JSON file ``args.body`` to ``path``; an exit code
    when it could not be had."""
    if not args.url or not args.token:
        return _error("--url and --token (or TRACKER_URL and TRACKER_TOKEN) are required")
    try:
        body = read_object(args.body)
        return tracker_http.post(
            tracker_http.endpoint(args.url, path), token=args.token, body=body,
            retries=args.retries, timeout=args.timeout, backoff=args.backoff, log=_note,
        )  # fmt: skip
    except tracker_http.Refused as exc:
        return _error(exc, _error_body(exc.body))
    except (InvalidFile, tracker_http.TrackerError) as exc:
        return _error(exc)


def _judge_online(args, body) -> report.Summary:
    if not args.url:
        raise UsageError("--url (or TRACKER_URL) is required, unless --baseline-file is given")
    if not args.token:
        raise UsageError("--token (or TRACKER_TOKEN) is required to post to the tracker")
    if body.get("external_id") is None:
        # One key for every attempt: a retry of a run the server did store returns that run.
        body = {**body, "external_id": f"trackerclient-{uuid.uuid4()}"}
    answer = tracker_http.post_run(
        url=args.url,
        token=args.token,
        body=body,
        dry_run=args.dry_run,
        retries=args.retries,
        timeout=args.timeout,
        backoff=args.backoff,
        log=_note,
    )
    run = answer.body
    gate = run.get("gate")
    if not isinstance(gate, dict) or not isinstance(gate.get("status"), str):
        raise tracker_http.TrackerError("the tracker's answer carries no gate verdict")
    checks = [check for check in gate.get("checks") or [] if isinstance(check, dict)]
    url = run.get("url")
    if args.dry_run:
        where = "Dry run: nothing stored."
    elif answer.status == 200:
        where = f"Run (already stored; this post was a replay): {url}"
    else:
        where = ""
    return report.Summary(
        gate["status"], checks, _subject({**body, **run}), url, where,
        branch=_text(run.get("branch")), base_branch=_text(gate.get("base_branch")),
        branch_url=_text(run.get("branch_url")),
    )  # fmt: skip


def _text(value):
    return value if isinstance(value, str) and value else None


def _judge_offline(args, body) -> report.Summary:
    baseline = baseline_file.load(args.baseline_file)
    gate = offline.gate_run(body, baseline, file_name=Path(args.results).name)
    if body.get("model") != baseline.model:
        _note(
            f"warning: the run is of model {body.get('model')!r}, the baseline file of "
            f"{baseline.model!r}"
        )
    where = (
        f"Offline: against baseline {baseline.version} of {baseline.model} on "
        f"{baseline.dataset.label} from {Path(args.baseline_file).name}; nothing posted."
    )
    dataset = baseline_file.parse_dataset(Fields(body, Path(args.results).name))
    if offline.is_baseline_run(str(body.get("version")), dataset, baseline):
        where += " This run is of the baseline version itself."
    return report.Summary(gate["status"], gate["checks"], _subject(body), None, where)


def _subject(run):
    """``fraud-detector 1.4.0 on holdout@2024-06``"""
    dataset = run.get("dataset")
    if isinstance(dataset, dict):
        name, version = dataset.get("name"), dataset.get("version")
        dataset = f"{name}@{version}" if version else name
    return f"{run.get('model')} {run.get('version')} on {dataset}"


def _write_reports(args, summary):
    if args.junit:
        Path(args.junit).write_bytes(report.junit_xml(summary))
    if args.markdown:
        Path(args.markdown).write_text(report.markdown(summary), encoding="utf-8")


def _error_body(body):
    return json.dumps(body, indent=2) if isinstance(body, dict | list) else str(body)


def _error(message, details=None) -> int:
    _note(f"error: {message}")
    if details:
        _note(details)
    return EXIT_ERROR


def _note(line):
    print(line, file=sys.stderr, flush=True)
