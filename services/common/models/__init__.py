"""The schema's table models, one module per owner. Importing this registers them all."""

from services.common.models.ingest import Observation, Outbox, Submission
from services.common.models.kernel import ApiKey, AuditLog
from services.common.models.metrics_api import Area, Metric, MetricVersion
from services.common.models.targets_api import (
    Escalation,
    EscalationStep,
    LeaderNomination,
    LeaderNominationDecision,
    PlaceGovernance,
    PlaceLeader,
    Plan,
    PlanApproval,
    PlanContribution,
    PlanSpend,
    PlanTarget,
    ProgressRefreshQueue,
    WebhookDelivery,
    WebhookDeliveryAttempt,
    WebhookSubscription,
)

__all__ = [
    "ApiKey",
    "Area",
    "AuditLog",
    "Escalation",
    "EscalationStep",
    "Metric",
    "LeaderNomination",
    "LeaderNominationDecision",
    "MetricVersion",
    "Observation",
    "Outbox",
    "PlaceGovernance",
    "PlaceLeader",
    "Plan",
    "PlanApproval",
    "PlanContribution",
    "PlanSpend",
    "PlanTarget",
    "ProgressRefreshQueue",
    "Submission",
    "WebhookDelivery",
    "WebhookDeliveryAttempt",
    "WebhookSubscription",
]
