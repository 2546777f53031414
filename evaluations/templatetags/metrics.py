"""Numbers as people read them on the pages and in e-mails: one formatting rule per kind of
metric, with its unit, and one way of writing a change, a percentage and how sure we are.

``metric_value`` takes the metric as a definition (``MetricDefinition`` or a dict with
``name``, ``kind``, ``unit``) or as a bare name, whose kind and unit then come from the
built-in catalogue (``trackerclient.metric_catalog``)."""

import math

from django import template

from evaluations.analysis import explain
from trackerclient import metric_catalog

register = template.Library()

DASH = "\u2014"
# Scores read at four decimals: a rate's 0.9312, ROUGE's 0.4127; enough to see the third
# decimal move, which is the size of change a regression gate cares about.
SCORE_DECIMALS = 4
# Everything else (errors, losses, perplexity, scores on a 0-100 scale) to four
# significant figures, never in scientific notation.
SIGNIFICANT = 4


def describe(metric) -> tuple[str, str, str]:
    """(name, kind, unit) of a metric given as a definition, a dict or a name."""
    if isinstance(metric, str):
        defaults = metric_catalog.defaults_for(metric)
        return metric, defaults.kind, defaults.unit
    if isinstance(metric, dict):  # a chart payload's metric, or a summary row ("metric")
        name = metric.get("name") or metric.get("metric") or ""
        defaults = metric_catalog.defaults_for(name)
        return name, metric.get("kind") or defaults.kind, metric.get("unit", defaults.unit)
    return metric.name, metric.kind, metric.unit


def format_number(value, *, kind, unit="") -> str:
    """``value`` of a metric of ``kind`` (a MetricDefinition kind) without its unit."""
    if kind == "latency" or unit in ("ms", "s"):
        return f"{value:,.1f}" if abs(value) >= 10 else f"{value:,.2f}"
    if kind in ("classification", "nlp") and -1 <= value <= 1:
        return f"{value:.{SCORE_DECIMALS}f}"
    return significant(value)


def significant(value: float, digits: int = SIGNIFICANT) -> str:
    """``value`` to ``digits`` significant figures in plain notation: 12.35, 0.001235, 12,346."""
    if value == 0:
        return "0"
    decimals = max(0, digits - 1 - math.floor(math.log10(abs(value))))
    return f"{value:,.{decimals}f}"


def _missing(value) -> bool:
    return value is None or value == "" or not math.isfinite(float(value))


@register.filter
def metric_value(value, metric) -> str:
    """A metric's value with its unit: "0.9312", "41.2 ms", "27.31" (BLEU on 0-100)."""
    if _missing(value):
        return DASH
    _, kind, unit = describe(metric)
    text = format_number(float(value), kind=kind, unit=unit)
    return f"{text} {unit}" if unit else text


@register.filter
def metric_change(value, metric) -> str:
    """A signed difference of a metric, with a true minus: "+0.0021", "-3.1 ms"."""
    if _missing(value):
        return ""
    _, kind, unit = describe(metric)
    value = float(value)
    text = format_number(abs(value), kind=kind, unit=unit)
    sign = "" if value == 0 else ("+" if value > 0 else explain.MINUS)
    return f"{sign}{text} {unit}" if unit else f"{sign}{text}"


@register.filter
def count(value) -> str:
    """A count as an integer with thousands separators: 114400 -> "114,400"."""
    return "" if _missing(value) else f"{round(float(value)):,}"


@register.filter
def percent_change(value) -> str:
    """A relative change, written like the findings' sentences: "+1.2%", "-3.9%" (a true minus)."""
    return "" if _missing(value) else explain.percent(float(value))


@register.filter
def how_sure(p_value) -> str:
    """How sure a finding is, from its p-value; never "100%": "very sure (p < 0.0001)"."""
    if _missing(p_value):
        return ""
    p_value = float(p_value)
    word = "very sure" if p_value < 0.01 else "fairly sure" if p_value < 0.05 else "not sure"
    return f"{word} ({explain.p_text(p_value)})"


STATUS_WORDS = {
    "passed": "passed",
    "failed": "failed",
    "insufficient": "not enough data to test",
    "not_comparable": "not comparable",
    "no_baseline": "no baseline",
}


@register.filter
def status_words(status) -> str:
    """A gate status as words: ``not_comparable`` -> "not comparable"."""
    return STATUS_WORDS.get(status, str(status).replace("_", " "))


@register.filter
def share(value) -> str:
    """A share of traffic as a percentage: 0.896 -> "89.6%"."""
    if _missing(value):
        return "—"
    return f"{100 * float(value):.1f}%"
