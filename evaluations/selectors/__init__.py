"""Reads shaped for the API, the pages and the jobs; one place for query tuning."""

from .analysis import AnalysisInput, analysis_inputs, failing_analyses
from .branches import BranchRow, branches_of
from .experiments import (
    arm_rows,
    experiment_notifications,
    experiment_timeline,
    experiments_for,
    get_experiment,
    latest_decision,
    latest_decisions,
)
from .findings import findings_for, findings_of_series, get_finding, marks_for
from .gate import (
    PinRow,
    RuleRow,
    branch_head,
    compare_versions,
    current_pin,
    gate_results,
    gate_rule_rows,
    latest_run_of,
    pin_at,
    pin_rows,
    pins_for,
    result_values,
    rules_for,
)
from .notifications import CHANNELS as NOTIFICATION_CHANNELS
from .notifications import notification_counts
from .operations import AnalysisBacklog, analysis_backlog, heartbeats, stored_counts
from .runs import (
    find_model,
    get_model,
    get_run,
    latest_runs_per_dataset,
    models_for,
    runs_for,
    versions_for,
)
from .series import (
    SERIES_CACHE_SECONDS,
    AmbiguousDataset,
    find_series,
    series_points,
    series_points_json,
)

__all__ = [
    "NOTIFICATION_CHANNELS",
    "SERIES_CACHE_SECONDS",
    "AmbiguousDataset",
    "AnalysisBacklog",
    "AnalysisInput",
    "BranchRow",
    "PinRow",
    "RuleRow",
    "analysis_backlog",
    "analysis_inputs",
    "arm_rows",
    "branch_head",
    "branches_of",
    "compare_versions",
    "current_pin",
    "experiment_notifications",
    "experiment_timeline",
    "experiments_for",
    "failing_analyses",
    "find_model",
    "find_series",
    "findings_for",
    "findings_of_series",
    "gate_results",
    "gate_rule_rows",
    "get_experiment",
    "get_finding",
    "get_model",
    "get_run",
    "heartbeats",
    "latest_decision",
    "latest_decisions",
    "latest_run_of",
    "latest_runs_per_dataset",
    "marks_for",
    "models_for",
    "notification_counts",
    "pin_at",
    "pin_rows",
    "pins_for",
    "result_values",
    "rules_for",
    "runs_for",
    "series_points",
    "series_points_json",
    "stored_counts",
    "versions_for",
]
