"""Reports of a verdict: the table and verdict line in the log, JUnit XML that JUnit parsers
accept, and a Markdown summary for a pull-request comment; the same from either mode."""

import xml.etree.ElementTree as ET

import pytest
from junitparser import Failure, JUnitXml, Skipped

from tests.client.conftest import Canned, check, run_answer
from trackerclient import cli

CHECKS = [
    check("accuracy", "passed", rule="min", message="accuracy 0.93 meets floor 0.9"),
    check("accuracy", "failed", message="accuracy 0.912 < baseline 0.931 - 0.01 on holdout"),
    check("f1", "insufficient", rule="significance", slice="country=DE",
          message="f1[country=DE] 0.8 vs baseline 0.88 on holdout: no sample sizes"),
    check("bleu", "not_comparable", message="bleu: this run is on holdout@2024-09"),
    check("recall", "failed", rule="missing", value=None, limit=None,
          message="recall is in the baseline but missing from this run on holdout"),
]  # fmt: skip


@pytest.fixture
def reported(fake_tracker, write_json, run_body, tmp_path, capsys):
    """Post through a tracker answering ``checks``; the exit code, log and report paths."""

    def post(status="failed", checks=CHECKS):
        tracker = fake_tracker(Canned(201, run_answer(run_body, status, checks)))
        junit, markdown = tmp_path / "report.xml", tmp_path / "summary.md"
        code = cli.main(
            ["post", write_json("results.json", run_body), "--url", tracker.url, "--token", "t",
             "--junit", str(junit), "--markdown", str(markdown)]
        )  # fmt: skip
        return code, capsys.readouterr().out, junit, markdown

    return post


def test_the_log_shows_a_table_failed_first_and_a_verdict_line(reported):
    code, out, _, _ = reported()

    table, verdict = out.strip().split("\n\n")
    header, *rows = table.splitlines()
    assert header.split() == [
        "STATUS", "METRIC[SLICE]", "RULE", "VALUE", "BASELINE", "LIMIT", "MESSAGE",
    ]  # fmt: skip
    assert [row.split()[:3] for row in rows] == [
        ["failed", "accuracy[overall]", "max_drop"],
        ["failed", "recall[overall]", "missing"],
        ["insufficient", "f1[country=DE]", "significance"],
        ["not_comparable", "bleu[overall]", "max_drop"],
        ["passed", "accuracy[overall]", "min"],
    ]
    # Fixed width: every column starts at the same place on every line.
    assert len({line.index(line.split()[1]) for line in table.splitlines()}) == 1
    assert rows[0].split()[3:6] == ["0.9", "0.93", "0.925"]
    assert verdict == (
        "Gate FAILED for fraud-detector 1.4.0 on holdout@2024-06: 2 of 5 checks failed "
        "(accuracy[overall] max_drop, recall[overall] missing); 1 insufficient; "
        "1 not_comparable. Run: http://tracker.test/runs/7/"
    )
    assert code == 1


def test_junit_xml_has_a_testcase_per_check_for_a_junit_parser(reported):
    _, _, junit, _ = reported()

    suite = next(iter(JUnitXml.fromfile(str(junit))))
    cases = {case.name: case for case in suite}
    assert (suite.tests, suite.failures, suite.skipped, suite.errors) == (5, 2, 2, 0)
    assert set(cases) == {
        "accuracy[overall] min", "accuracy[overall] max_drop", "f1[country=DE] significance",
        "bleu[overall] max_drop", "recall[overall] missing",
    }  # fmt: skip
    assert cases["accuracy[overall] min"].is_passed
    assert cases["accuracy[overall] max_drop"].classname == "gate.accuracy"
    [failure] = cases["accuracy[overall] max_drop"].result
    assert isinstance(failure, Failure)
    assert failure.message == "accuracy 0.912 < baseline 0.931 - 0.01 on holdout"
    [skipped] = cases["f1[country=DE] significance"].result
    assert isinstance(skipped, Skipped)
    assert skipped.message.startswith("insufficient: f1[country=DE] 0.8 vs baseline 0.88")


def test_junit_xml_parses_with_the_standard_library(reported):
    _, _, junit, _ = reported()

    root = ET.parse(junit).getroot()
    cases = root.findall("./testsuite/testcase")
    assert root.tag == "testsuites"
    assert len(cases) == len(CHECKS)
    assert len(root.findall("./testsuite/testcase/failure")) == 2
    assert len(root.findall("./testsuite/testcase/skipped")) == 2
    assert root.find("./testsuite").get("failures") == "2"
    properties = {p.get("name"): p.get("value") for p in root.iter("property")}
    assert properties == {"verdict": "failed", "run_url": "http://tracker.test/runs/7/"}


def test_a_verdict_without_checks_makes_an_empty_but_valid_suite(reported):
    code, out, junit, markdown = reported(status="no_baseline", checks=[])

    assert code == 0
    assert "(no checks)" in out
    assert "Gate NO BASELINE for fraud-detector 1.4.0 on holdout@2024-06" in out
    assert next(iter(JUnitXml.fromfile(str(junit)))).tests == 0
    assert "### Model gate: NO BASELINE" in markdown.read_text()


def test_markdown_summary_has_the_verdict_a_table_failed_first_and_the_link(reported):
    _, _, _, markdown = reported()

    text = markdown.read_text()
    lines = text.splitlines()
    assert lines[0] == "### Model gate: FAILED"
    assert "[View the run](http://tracker.test/runs/7/)" in text
    table = [line for line in lines if line.startswith("|")]
    assert table[0] == "| Status | Metric [slice] | Rule | Value | Baseline | Limit | Message |"
    assert len(table) == 2 + len(CHECKS)
    assert [row.split(" | ")[0] for row in table[2:]] == [
        "| **failed**", "| **failed**", "| insufficient", "| not_comparable", "| passed",
    ]  # fmt: skip
    assert "| `accuracy[overall]` | max_drop | 0.9 | 0.93 | 0.925 |" in table[2]
    assert "accuracy 0.912 \\< baseline" in table[2]  # rendered as "<"


def test_markdown_escapes_what_would_break_the_table(reported):
    checks = [check("f1", "failed", slice="a|b", message="f1 on a|b\nfell")]

    _, _, _, markdown = reported(checks=checks)

    row = markdown.read_text().splitlines()[-1]
    assert row.count(" | ") == 6
    assert "f1 on a\\|b fell" in row


@pytest.fixture
def gate_offline_reports(write_json, run_body, tmp_path, capsys):
    baseline = {
        "format": "model-metrics-tracker/baseline@1", "model": "fraud-detector",
        "dataset": {"name": "holdout", "version": "2024-06", "size": 10000},
        "version": "1.3.0",
        "results": [{"metric": "accuracy", "value": 0.931},
                    {"metric": "recall", "value": 0.7}],
        "rules": [{"metric": "accuracy", "min": 0.9, "max_drop": 0.01}],
    }  # fmt: skip
    junit, markdown = tmp_path / "report.xml", tmp_path / "summary.md"
    code = cli.main(
        ["post", write_json("results.json", run_body),
         "--baseline-file", write_json("baselines.json", baseline),
         "--junit", str(junit), "--markdown", str(markdown)]
    )  # fmt: skip
    return code, capsys.readouterr().out, junit, markdown


def test_offline_reports_come_from_the_same_path(gate_offline_reports):
    code, out, junit, markdown = gate_offline_reports

    assert code == 1
    assert "Offline: against baseline 1.3.0" in out
    suite = next(iter(JUnitXml.fromfile(str(junit))))
    assert (suite.tests, suite.failures) == (3, 1)
    assert "### Model gate: FAILED" in markdown.read_text()
    assert "View the run" not in markdown.read_text()


def test_a_report_that_cannot_be_written_exits_2(
    fake_tracker, write_json, run_body, tmp_path, capsys
):
    tracker = fake_tracker(Canned(201, run_answer(run_body, "passed")))
    junit = tmp_path / "missing-dir" / "report.xml"

    results = write_json("results.json", run_body)

    code = cli.main(["post", results, "--url", tracker.url, "--token", "t", "--junit", str(junit)])

    assert code == 2
    assert f"cannot write the report {junit}" in capsys.readouterr().err
