"""The domain's words, defined once: what a metric is and how it rolls up, the statuses a
target's progress can have, and a place's arrangements (its leader's nomination, its governance);
and the words the `joinedup` command offers as choices (a key's role, a submission's mode, the
worker's jobs). Catalogue, schemas, maths and the command all use these. Nothing here imports
more than the standard library, so `joinedup --help` stays quick (services/cli.py)."""

from enum import StrEnum
from typing import Literal, get_args


class Role(StrEnum):
    """What an API key may do (API.md's role table)."""

    admin = "admin"
    steward = "steward"
    submitter = "submitter"
    signatory = "signatory"
    assessor = "assessor"
    viewer = "viewer"
    service = "service"  # one service calling another (ingest telling targets_api of changes)


class SubmissionMode(StrEnum):
    """atomic: every row of a submission or none; partial: the valid rows are stored."""

    atomic = "atomic"
    partial = "partial"


class ImportStrategy(StrEnum):
    """DHIS2's importStrategy for data values (services/ingest/dhis2): which of a file's values
    may be written, by whether the place, metric and period already have a current value."""

    CREATE = "CREATE"  # only values that do not exist yet; the others are ignored
    UPDATE = "UPDATE"  # only values that exist (a correction); the others are ignored
    CREATE_AND_UPDATE = "CREATE_AND_UPDATE"


class SubmitFormat(StrEnum):
    """What `joinedup submit` sends: joinedup's own CSV, a DHIS2 dataValueSets file, or a FHIR
    Bundle or MeasureReport."""

    native = "native"
    dhis2 = "dhis2"
    fhir = "fhir"


class WorkerJob(StrEnum):
    progress = "progress"  # targets_api's progress refresher
    outbox = "outbox"  # ingest's outbox deliverer
    webhooks = "webhooks"  # targets_api's webhook deliveries to areas' subscribers


class WebhookEvent(StrEnum):
    """What a webhook subscriber may ask to be told of: the steps of an escalation (issue 19),
    named as they appear in ``X-Joinedup-Event`` and in a subscription's ``events``."""

    escalation_opened = "escalation.opened"
    escalation_acknowledged = "escalation.acknowledged"
    escalation_escalated = "escalation.escalated"
    escalation_resolved = "escalation.resolved"


Kind = Literal["count", "proportion", "rate", "value"]
Direction = Literal["higher_is_better", "lower_is_better", "neutral"]
Aggregation = Literal["sum", "ratio_of_sums", "population_weighted_mean"]
# In API.md's order of precedence (the first that applies is the target's status).
Status = Literal["no_data", "not_assessed", "achieved", "on_track", "at_risk", "off_track"]

# A place's governance (issue 18): the forms a place partnership's decision-making may take, and
# the categories of organisation its membership is described in.
GovernanceModel = Literal[
    "icb_committee",
    "joint_committee",
    "committees_in_common",
    "lead_provider",
    "individual_executive",
    "other",
]
MemberCategory = Literal[
    "primary_care",
    "local_authority",
    "public_health",
    "community_health",
    "mental_health",
    "healthwatch",
    "acute_provider",
    "ambulance_trust",
    "voluntary_sector",
    "other",
]
# The partnership's minimum membership the reforms name: primary care provider leadership, the
# local authority and its director of public health, providers of community and of mental
# health services, and Healthwatch. In this order wherever the missing ones are listed.
MINIMUM_MEMBERSHIP: tuple[MemberCategory, ...] = (
    "primary_care",
    "local_authority",
    "public_health",
    "community_health",
    "mental_health",
    "healthwatch",
)
# A leader nomination's life: open until both bodies confirm it or one declines it.
NominationStatus = Literal["nominated", "confirmed", "declined"]
NominationDecision = Literal["confirm", "decline"]
# The resources behind a place's plan (issue 18): a partner's contribution is pooled (into a
# shared budget) or aligned (kept by the partner, spent to the plan), and planned and actual
# spend are by the scheme types of the Better Care Fund.
ContributionKind = Literal["pooled", "aligned"]
Scheme = Literal[
    "home_care",
    "reablement",
    "carers",
    "assistive_technology",
    "disabled_facilities_grants",
    "residential_placements",
    "intermediate_care",
    "other",
]
SCHEMES: tuple[Scheme, ...] = get_args(Scheme)
# The national quarterly metric each scheme's actual spend is submitted as (spend to date in the
# financial year, GBP; seeded from services/data/national_metrics.csv).
SPEND_METRICS: dict[Scheme, str] = {
    scheme: f"bcf-spend-{scheme.replace('_', '-')}" for scheme in SCHEMES
}
# An escalation (issue 19): a place asks the level above it to help with an obstacle. Raised by
# hand or by a rule after a progress refresh; addressed first to the place's ICB, then up the
# chain (region, then England's national support team). ``escalated`` is the state of the record
# left behind when it moves up; the copy opened at the next level starts ``open`` again.
EscalationState = Literal["open", "acknowledged", "resolved", "escalated"]
ESCALATION_STATES: tuple[EscalationState, ...] = get_args(EscalationState)
# The states in which an escalation still waits for its addressee (the ones rules deduplicate).
ESCALATION_LIVE: tuple[EscalationState, ...] = ("open", "acknowledged")
EscalationReason = Literal["manual", "off_track", "data_missing"]
ESCALATION_REASONS: tuple[EscalationReason, ...] = get_args(EscalationReason)
# What happens to an escalation, each a row of its history (escalation_step).
EscalationAction = Literal["opened", "acknowledged", "resolved", "escalated"]
# The levels an escalation is addressed to, in the order it goes up the chain.
EscalationLevel = Literal["icb", "region", "nation"]
ESCALATION_LEVELS: tuple[EscalationLevel, ...] = get_args(EscalationLevel)
