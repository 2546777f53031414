"""Tables of the metrics tracker, by area."""

from . import lookups  # noqa: F401  (registers field__any)
from .alerts import ALERT_KINDS, Channel, Notification
from .experiments import (
    Experiment,
    ExperimentAlert,
    ExperimentArm,
    ExperimentDecision,
    ExperimentWindow,
)
from .findings import ChangeMark, Finding
from .gate import BaselinePin, ThresholdRule
from .history import (
    Branch,
    EvaluationDataset,
    EvaluationRun,
    MetricDefinition,
    MetricResult,
    ModelVersion,
    RegisteredModel,
    Series,
)
from .missed import MissedRegression
from .operations import Heartbeat
from .projects import NAME_MAX_LENGTH, ApiToken, Membership, Project, token_digest
from .replicates import ReplicateSet

__all__ = [
    "ALERT_KINDS",
    "NAME_MAX_LENGTH",
    "ApiToken",
    "BaselinePin",
    "Branch",
    "ChangeMark",
    "Channel",
    "EvaluationDataset",
    "EvaluationRun",
    "Experiment",
    "ExperimentAlert",
    "ExperimentArm",
    "ExperimentDecision",
    "ExperimentWindow",
    "Finding",
    "Heartbeat",
    "Membership",
    "MetricDefinition",
    "MetricResult",
    "MissedRegression",
    "ModelVersion",
    "Notification",
    "Project",
    "RegisteredModel",
    "ReplicateSet",
    "Series",
    "ThresholdRule",
    "token_digest",
]
