"""What CI shows of a gate verdict: a fixed-width table and a verdict line for the log, JUnit
XML for the test-report view, and Markdown for a pull-request comment.

Every report takes a Summary whose checks are dicts in the server's shape (``metric``,
``slice``, ``rule``, ``status``, ``message``, ``value``, ``baseline``, ``limit``, ...); a server
that sends fewer fields still reports, with blanks.
"""

import math
import xml.etree.ElementTree as ET
from collections import Counter
from dataclasses import dataclass

PASSED, FAILED, NO_BASELINE = "passed", "failed", "no_baseline"
SKIPPED = ("insufficient", "not_comparable")
# Failed checks first, then those that could not be judged, then the passes.
STATUS_ORDER = {FAILED: 0, "insufficient": 1, "not_comparable": 2, PASSED: 3}
WORDS = {PASSED: "PASSED", FAILED: "FAILED", NO_BASELINE: "NO BASELINE"}


@dataclass(frozen=True)
class Summary:
    """A gate verdict and the run it judges."""

    status: str  # passed, failed, no_baseline
    checks: list[dict]
    subject: str  # "fraud-detector 1.4.0 on holdout@2024-06"
    url: str | None = None  # the run's page
    where: str = ""  # how it was judged, when not as a stored run: "Dry run: nothing stored."
    branch: str | None = None  # the run's branch
    base_branch: str | None = None  # the branch whose baseline judged it
    branch_url: str | None = None  # the model page on the run's branch, over the main line

    @property
    def against(self) -> str:
        """``feature/x: judged against main's baseline.`` for a run on another branch."""
        if self.branch and self.base_branch and self.branch != self.base_branch:
            return f"{self.branch}: judged against {self.base_branch}'s baseline."
        return ""

    @property
    def word(self):
        return WORDS.get(self.status, self.status.upper())

    @property
    def ordered_checks(self):
        return sorted(self.checks, key=lambda check: _severity(check.get("status")))


def _severity(status):
    return STATUS_ORDER.get(status, 0)  # an unknown status is shown with the failures


def verdict_line(summary) -> str:
    """``Gate FAILED: 2 of 5 checks failed (...). Run: <url>``"""
    where = summary.where or (f"Run: {summary.url}" if summary.url else "")
    return f"Gate {summary.word} for {summary.subject}: {counts(summary)}. {where}".rstrip()


def counts(summary, named=5):
    """``2 of 6 checks failed (accuracy[overall] max_drop, ...); 1 insufficient``"""
    checks = summary.checks
    if not checks:
        return "nothing to compare with yet" if summary.status == NO_BASELINE else "no checks"
    tally = Counter(check.get("status") for check in checks)
    failed = [_label(check) for check in checks if check.get("status") == FAILED]
    if failed:
        more = f" and {len(failed) - named} more" if len(failed) > named else ""
        text = f"{len(failed)} of {len(checks)} checks failed ({', '.join(failed[:named])}{more})"
    else:
        text = f"{tally[PASSED]} of {len(checks)} checks passed"
    others = [f"{n} {status}" for status, n in tally.items() if status not in (FAILED, PASSED)]
    return "; ".join([text, *others])


def _label(check):
    name = f"{check.get('metric')}[{check.get('slice') or 'overall'}]"
    return f"{name} {check['rule']}" if check.get("rule") else name


COLUMNS = ("STATUS", "METRIC[SLICE]", "RULE", "VALUE", "BASELINE", "LIMIT", "MESSAGE")


def table(summary) -> str:
    """The checks, failed first, in fixed-width columns for a CI log."""
    if not summary.checks:
        return "(no checks)"
    rows = [COLUMNS] + [_row(check) for check in summary.ordered_checks]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS) - 1)]
    lines = []
    for row in rows:
        cells = [
            cell.rjust(width) if 3 <= i <= 5 else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=False))
        ]
        lines.append("  ".join([*cells, row[-1]]).rstrip())
    return "\n".join(lines)


def _row(check):
    return (
        str(check.get("status", "")),
        f"{check.get('metric')}[{check.get('slice') or 'overall'}]",
        str(check.get("rule") or ""),
        _number(check.get("value")),
        _number(check.get("baseline")),
        _number(check.get("limit")),
        _one_line(check.get("message", "")),
    )


def _number(value):
    if value is None:
        return "-"
    if isinstance(value, int | float) and not isinstance(value, bool):
        return f"{value:.4g}" if math.isfinite(value) else str(value)
    return str(value)


def _one_line(text):
    return " ".join(str(text).split())


def junit_xml(summary) -> bytes:
    """JUnit XML: one testcase per check; failed checks fail, insufficient and not_comparable
    ones are skipped, with the check's message."""
    failures = sum(check.get("status") == FAILED for check in summary.checks)
    skipped = sum(check.get("status") in SKIPPED for check in summary.checks)
    counts = {"tests": str(len(summary.checks)), "failures": str(failures), "errors": "0",
              "skipped": str(skipped), "time": "0"}  # fmt: skip
    root = ET.Element("testsuites", name="model gate", **counts)
    suite = ET.SubElement(root, "testsuite", name=f"gate: {summary.subject}", **counts)
    properties = ET.SubElement(suite, "properties")
    ET.SubElement(properties, "property", name="verdict", value=summary.status)
    if summary.url:
        ET.SubElement(properties, "property", name="run_url", value=summary.url)
    for check in summary.checks:
        case = ET.SubElement(
            suite, "testcase", classname=f"gate.{check.get('metric')}", name=_label(check),
            time="0",
        )  # fmt: skip
        message = _one_line(check.get("message", ""))
        if check.get("status") == FAILED:
            failure = ET.SubElement(case, "failure", message=message, type=str(check.get("rule")))
            failure.text = _details(check)
        elif check.get("status") != PASSED:
            ET.SubElement(case, "skipped", message=f"{check.get('status')}: {message}")
        else:
            ET.SubElement(case, "system-out").text = message
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


def _details(check):
    fields = ("value", "baseline", "limit", "delta", "p_value", "q_value", "method",
              "budget_used")  # fmt: skip
    lines = [_one_line(check.get("message", ""))]
    lines += [f"{name}: {_number(check[name])}" for name in fields if check.get(name) is not None]
    return "\n".join(lines)


def markdown(summary) -> str:
    """A pull-request comment: the verdict, the checks (failed first), a link to the run."""
    link = f" [View the run]({summary.url})" if summary.url else ""
    if summary.branch_url:
        shown = f"{summary.branch} over {summary.base_branch}" if summary.against else "history"
        link += f" · [The branch's {_md(shown)}]({summary.branch_url})"
    lines = [
        f"### Model gate: {summary.word}",
        "",
        f"**{_md(summary.subject)}**: {_md(counts(summary))}.{link}",
    ]
    for note in (summary.against, summary.where):
        if note:
            lines += ["", _md(note)]
    if summary.checks:
        lines += [
            "",
            "| Status | Metric [slice] | Rule | Value | Baseline | Limit | Message |",
            "| --- | --- | --- | ---: | ---: | ---: | --- |",
        ]
        lines += [_md_row(check) for check in summary.ordered_checks]
    return "\n".join(lines) + "\n"


def _md_row(check):
    status, name, rule, value, baseline, limit, message = _row(check)
    status = f"**{status}**" if status == FAILED else status
    cells = [status, f"`{name}`" if "`" not in name else _md(name), _md(rule), value, baseline,
             limit, _md(message)]  # fmt: skip
    return "| " + " | ".join(cells) + " |"


def _md(text):
    """Text safe in a Markdown table cell."""
    text = _one_line(text)
    for char in "\\|*[]<>":
        text = text.replace(char, "\\" + char)
    return text
