"""Small server-drawn pictures for tables: sparklines that need no JavaScript."""

from django import template
from django.utils.html import format_html

from evaluations.analysis import explain

register = template.Library()

WIDTH, HEIGHT, PAD = 120, 28, 2


@register.simple_tag
def sparkline(values, label=""):
    """An inline SVG line of ``values`` (oldest first), with its range in the accessible name."""
    points = [v for v in values if v is not None]
    if len(points) < 2:
        return ""
    # Halves, so that values near the float's limits (±1e308) do not overflow the span.
    low, high = min(points) / 2, max(points) / 2
    span = (high - low) or 1.0
    step = (WIDTH - 2 * PAD) / (len(points) - 1)
    coords = " ".join(
        f"{PAD + i * step:.1f},{PAD + (HEIGHT - 2 * PAD) * (1 - (v / 2 - low) / span):.1f}"
        for i, v in enumerate(points)
    )
    title = f"{label}: {_short(points[0])} to {_short(points[-1])} over the last {len(points)} runs"
    return format_html(
        '<svg class="sparkline" width="{}" height="{}" viewBox="0 0 {} {}" role="img" '
        'aria-label="{}"><title>{}</title><polyline fill="none" stroke="currentColor" '
        'stroke-width="1.5" points="{}"/></svg>',
        WIDTH, HEIGHT, WIDTH, HEIGHT, title, title, coords,
    )  # fmt: skip


def _short(value):
    return f"{value:.4g}"


@register.filter
def signed_percent(value):
    """0.0123 -> "+1.2%", -0.039 -> "-3.9%" with a true minus, as the findings' sentences
    write it; None -> ""."""
    return "" if value is None else explain.percent(value)


@register.filter
def p_value(value):
    """A p-value as people read it: "<0.0001" rather than "0.0000"."""
    if value is None:
        return ""
    return "<0.0001" if value < 0.0001 else f"{value:.4f}"
