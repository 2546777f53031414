"""One sentence per finding, for people: what changed, since which version, by how much
(absolute and relative), and how sure. Rates (metrics in [0, 1]) are told in points (x100)."""

import math

MINUS = "\u2212"


def number(value: float) -> str:
    """``value`` to two significant figures, never in scientific notation: 1.8, 0.21, 41."""
    if value == 0 or not math.isfinite(value):
        return "0" if value == 0 else str(value)
    decimals = max(0, 1 - math.floor(math.log10(abs(value))))
    return f"{value:.{decimals}f}"


def amount(change: float, *, is_rate: bool) -> str:
    """The size of a change: "1.8 points" for rates, "4.1" otherwise."""
    if is_rate:
        size = number(abs(change) * 100)
        return f"{size} point" if size == "1" else f"{size} points"
    return number(abs(change))


def relative(change: float | None) -> str:
    """A relative change as a signed percentage in brackets, " (-1.9%)" with a true minus
    sign, or nothing when the level it is relative to is unknown or zero."""
    return "" if change is None else f" ({percent(change)})"


def percent(change: float) -> str:
    """A relative change as a signed percentage to one decimal with a true minus sign:
    "+1.2%", "-3.9%" (with U+2212 for the minus). Every page and e-mail writes a change
    this way, so that a finding's sentence and the figures beside it agree."""
    rounded = round(abs(change) * 100, 1)
    sign = "" if rounded == 0 else ("+" if change > 0 else MINUS)
    return f"{sign}{rounded:.1f}%"


def p_text(p_value: float) -> str:
    """A p-value as people read it, never rounded to zero: "p < 0.0001", "p = 0.012"."""
    return "p < 0.0001" if p_value < 0.0001 else f"p = {number(p_value)}"


def versions(count: int) -> str:
    return "1 version" if count == 1 else f"{count} versions"


def drift(*, metric, change, rel, points, since, slope, p_value, worse_up, is_rate) -> str:
    way = "up" if worse_up else "down"
    return (
        f"{metric} has drifted {way} {amount(change, is_rate=is_rate)}{relative(rel)} over "
        f"{versions(points)} since {since}, about {amount(slope, is_rate=is_rate)} per version "
        f"({p_text(p_value)})"
    )


def step(*, metric, change, rel, points, at, p_value, worse_up, is_rate) -> str:
    verb, way = ("rose", "up") if worse_up else ("dropped", "down")
    return (
        f"{metric} {verb} {amount(change, is_rate=is_rate)}{relative(rel)} at {at} and has "
        f"stayed {way} for {versions(points)} ({p_text(p_value)})"
    )


def baseline(*, metric, change, rel, baseline_value, since, p_value, worse_up, is_rate) -> str:
    side, way = ("above", "up") if worse_up else ("below", "down")
    return (
        f"{metric} is {amount(change, is_rate=is_rate)}{relative(rel)} {side} its baseline "
        f"{baseline_value:g}, {way} since {since} ({p_text(p_value)})"
    )


def forecast(*, metric, limit, versions_left, worse_up) -> str:
    """The clause appended when a floor or budget applies: "; at this rate ..."."""
    side, verb = ("above", "rises") if worse_up else ("below", "falls")
    if versions_left == 0:
        return f"; it is already {side} {limit:g}"
    return f"; at this rate {metric} {verb} {side} {limit:g} in about {versions(versions_left)}"
