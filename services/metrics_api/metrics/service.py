"""The metric catalogue: national and local metrics whose definitions are versioned."""

from datetime import date
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.common import audit, periods
from services.common.auth import ENGLAND, ApiPrincipal, require_scope
from services.common.errors import Conflict, NotFound, Unprocessable, field_error
from services.common.models import Metric, MetricVersion
from services.metrics_api.areas import store as areas
from services.metrics_api.metrics import store
from services.metrics_api.metrics.schemas import (
    Aggregation,
    Kind,
    MetricCreate,
    MetricDefinition,
    MetricDefinitionIn,
    MetricPublic,
    MetricScope,
    MetricStatus,
    MetricUpdate,
    MetricVersionPublic,
)

DEFAULT_AGGREGATION = {
    Kind.count_: Aggregation.sum,
    Kind.proportion: Aggregation.ratio_of_sums,
    Kind.rate: Aggregation.ratio_of_sums,
    Kind.value: Aggregation.population_weighted_mean,
}
# Summing percentages or taking a ratio of sums without numerators would give nonsense.
ALLOWED_AGGREGATIONS = {
    Kind.count_: {Aggregation.sum},
    Kind.proportion: {Aggregation.ratio_of_sums, Aggregation.population_weighted_mean},
    Kind.rate: {Aggregation.ratio_of_sums, Aggregation.population_weighted_mean},
    Kind.value: {Aggregation.population_weighted_mean, Aggregation.sum},
}
RATIO_KINDS = {Kind.proportion, Kind.rate}
LOCAL_OWNER_LEVELS = {"place", "icb"}


def _reporting_from(body: MetricDefinitionIn, *, created_on: date, previous: str | None) -> str:
    """The first period for which data is expected (API.md amendments), in the form of the
    metric's periodicity; raises PeriodError when the one given is not such a period."""
    if body.reporting_from is not None:
        return periods.parse_as(body.reporting_from, body.periodicity).code
    if previous is not None:
        # A new version that does not say keeps the date reporting began: falling back to the
        # creation day would silently stop expecting the periods reported so far.
        return periods.containing(body.periodicity, periods.parse(previous).start).code
    return periods.containing(body.periodicity, created_on).code


def resolve_definition(
    body: MetricDefinitionIn,
    *,
    scope: MetricScope,
    created_on: date | None = None,
    previous_reporting_from: str | None = None,
) -> MetricDefinition:
    """Apply defaults and cross-field rules; every problem is reported with its field.

    ``created_on`` is the day (in England) the metric was created, today unless given, and
    ``previous_reporting_from`` the current version's reporting_from when this is a new version.
    """
    errors = []
    reporting_from = None
    try:
        reporting_from = _reporting_from(
            body, created_on=created_on or periods.england_today(), previous=previous_reporting_from
        )
    except periods.PeriodError as exc:
        errors.append(field_error(["reporting_from"], str(exc)))
    if body.kind in RATIO_KINDS and body.multiplier is None:
        errors.append(
            field_error(["multiplier"], f"a {body.kind} needs a multiplier (100 for a percentage)")
        )
    if scope is MetricScope.local and body.mandatory:
        errors.append(field_error(["mandatory"], "only national metrics can be mandatory"))
    aggregation = body.aggregation or DEFAULT_AGGREGATION[body.kind]
    if aggregation not in ALLOWED_AGGREGATIONS[body.kind]:
        allowed = ", ".join(sorted(ALLOWED_AGGREGATIONS[body.kind]))
        errors.append(
            field_error(["aggregation"], f"a {body.kind} rolls up by {allowed}, not {aggregation}")
        )
    valid_min = body.valid_min
    if valid_min is None and body.kind is not Kind.value:
        valid_min = 0.0
    valid_max = body.valid_max
    if valid_max is None and body.kind is Kind.proportion:
        valid_max = body.multiplier
    if valid_min is not None and valid_max is not None and valid_min > valid_max:
        errors.append(
            field_error(["valid_min"], f"valid_min ({valid_min}) is above valid_max ({valid_max})")
        )
    if errors:
        raise Unprocessable(
            "The metric definition is not valid: "
            + "; ".join(f"{e['loc'][0]}: {e['msg']}" for e in errors),
            errors=errors,
        )
    assert reporting_from is not None  # else its error was raised above
    return MetricDefinition(
        **body.model_dump(
            exclude={
                "aggregation",
                "valid_min",
                "valid_max",
                "decimals",
                "code",
                "scope",
                "owner_area_code",
                "reporting_from",
            }
        ),
        aggregation=aggregation,
        valid_min=valid_min,
        valid_max=valid_max,
        reporting_from=reporting_from,
        decimals=body.decimals
        if body.decimals is not None
        else (0 if body.kind is Kind.count_ else 1),
    )


def to_public(metric: Metric, version: MetricVersion) -> MetricPublic:
    return MetricPublic.model_validate(
        {
            **version.model_dump(),
            "scope": metric.scope,
            "owner_area_code": metric.owner_area_code,
            "status": metric.status,
            "metric_created_at": metric.created_at,
            "retired_at": metric.retired_at,
        }
    )


async def _get_metric(session: AsyncSession, code: str, *, for_update: bool = False) -> Metric:
    read = store.locked_metric if for_update else store.metric
    metric = await read(session, code)
    if metric is None:
        raise NotFound(f"No metric with code {code}.")
    return metric


async def _get_version(session: AsyncSession, code: str, version: int) -> MetricVersion:
    row = await store.metric_version(session, code, version)
    if row is None:
        raise NotFound(f"Metric {code} has no version {version}.")
    return row


async def get_metric(
    session: AsyncSession, *, code: str, version: int | None = None
) -> MetricPublic:
    metric = await _get_metric(session, code)
    return to_public(metric, await _get_version(session, code, version or metric.current_version))


async def list_metrics(
    session: AsyncSession,
    *,
    scope: MetricScope | None,
    owner: str | None,
    status: MetricStatus | None,
    domain: str | None,
    limit: int,
    offset: int,
) -> tuple[list[MetricPublic], int]:
    count = await store.metric_count(
        session, scope=scope, owner=owner, status=status, domain=domain
    )
    rows = await store.metrics_page(
        session, scope=scope, owner=owner, status=status, domain=domain, limit=limit, offset=offset
    )
    return [to_public(m, v) for m, v in rows], count


async def list_versions(session: AsyncSession, *, code: str) -> list[MetricVersionPublic]:
    await _get_metric(session, code)
    return [
        MetricVersionPublic.model_validate(v) for v in await store.metric_versions(session, code)
    ]


async def _authorise_owner(
    session: AsyncSession, principal: ApiPrincipal, *, scope: MetricScope, owner_area_code: str
) -> None:
    """National metrics need England in scope; local ones need their owner in scope."""
    if scope is MetricScope.national:
        require_scope(principal, ENGLAND, [ENGLAND])
        return
    require_scope(principal, owner_area_code, await areas.lineage(session, owner_area_code))


async def _resolve_owner(session: AsyncSession, body: MetricCreate) -> str:
    if body.scope is MetricScope.national:
        if body.owner_area_code not in (None, ENGLAND):
            raise Unprocessable(
                "A national metric belongs to England.",
                errors=[
                    field_error(
                        ["owner_area_code"], f"must be {ENGLAND} or omitted for a national metric"
                    )
                ],
            )
        return ENGLAND
    if body.owner_area_code is None:
        raise Unprocessable(
            "A local metric needs the place or ICB that owns it.",
            errors=[field_error(["owner_area_code"], "required for local metrics")],
        )
    owner = await areas.area(session, body.owner_area_code)
    if owner is None:
        raise Unprocessable(
            f"Owner area {body.owner_area_code} does not exist.",
            errors=[field_error(["owner_area_code"], "no such area")],
        )
    if owner.level not in LOCAL_OWNER_LEVELS:
        raise Unprocessable(
            f"A local metric is owned by a place or an ICB, not a {owner.level}.",
            errors=[field_error(["owner_area_code"], "must be a place or an ICB")],
        )
    return owner.code


async def create_metric(
    session: AsyncSession, *, principal: ApiPrincipal, body: MetricCreate
) -> MetricPublic:
    owner = await _resolve_owner(session, body)
    await _authorise_owner(session, principal, scope=body.scope, owner_area_code=owner)
    definition = resolve_definition(body, scope=body.scope)
    exists = Conflict(
        f"A metric with code {body.code} already exists; PUT to it to make a new version."
    )
    if await store.metric(session, body.code) is not None:
        raise exists
    metric = await store.insert_metric(
        session, Metric(code=body.code, scope=body.scope, owner_area_code=owner), taken=exists
    )
    version = await _add_version(session, principal, body.code, 1, definition)
    public = to_public(metric, version)
    await audit.record(
        session,
        actor=principal,
        action="metric.create",
        entity_type="metric",
        entity_id=body.code,
        after=public.model_dump(mode="json"),
    )
    return public


async def _add_version(
    session: AsyncSession,
    principal: ApiPrincipal,
    code: str,
    number: int,
    definition: MetricDefinition,
) -> MetricVersion:
    version = MetricVersion(
        metric_code=code,
        version=number,
        created_by_key_id=principal.key_id,
        **definition.model_dump(),
    )
    return await store.insert_version(session, version)


def _identity_errors(metric: Metric, body: MetricUpdate) -> list[dict[str, Any]]:
    fixed = {"code": metric.code, "scope": metric.scope, "owner_area_code": metric.owner_area_code}
    return [
        field_error([name], f"cannot change from {current!r}; create a new metric instead")
        for name, current in fixed.items()
        if getattr(body, name) is not None and getattr(body, name) != current
    ]


async def lock_for_change(
    session: AsyncSession, *, principal: ApiPrincipal, code: str
) -> tuple[Metric, MetricVersion]:
    """Lock a metric for a change, checking the key may change it; returns it and its version."""
    metric = await _get_metric(session, code, for_update=True)
    await _authorise_owner(
        session, principal, scope=MetricScope(metric.scope), owner_area_code=metric.owner_area_code
    )
    return metric, await _get_version(session, code, metric.current_version)


async def update_metric(
    session: AsyncSession,
    *,
    principal: ApiPrincipal,
    metric: Metric,
    current: MetricVersion,
    body: MetricUpdate,
) -> MetricPublic:
    """A changed definition becomes a new version; an unchanged one changes nothing."""
    if metric.status == MetricStatus.retired:
        raise Conflict(f"Metric {metric.code} is retired; a retired metric cannot be changed.")
    if errors := _identity_errors(metric, body):
        raise Unprocessable("A metric's code, scope and owner are fixed.", errors=errors)
    assert metric.created_at is not None  # the database sets it
    definition = resolve_definition(
        body,
        scope=MetricScope(metric.scope),
        created_on=metric.created_at.astimezone(periods.ENGLAND_TIME).date(),
        previous_reporting_from=current.reporting_from,
    )
    before = to_public(metric, current)
    if definition == MetricDefinition.model_validate(current):
        return before
    version = await _add_version(
        session, principal, metric.code, metric.current_version + 1, definition
    )
    await store.set_current_version(session, metric, version.version)
    after = to_public(metric, version)
    await audit.record(
        session,
        actor=principal,
        action="metric.version",
        entity_type="metric",
        entity_id=metric.code,
        before=before.model_dump(mode="json"),
        after=after.model_dump(mode="json"),
    )
    return after


async def retire_metric(
    session: AsyncSession, *, principal: ApiPrincipal, metric: Metric, current: MetricVersion
) -> MetricPublic:
    if metric.status == MetricStatus.retired:
        raise Conflict(f"Metric {metric.code} is already retired.", current_status="retired")
    before = to_public(metric, current)
    await store.retire(session, metric)
    after = to_public(metric, current)
    await audit.record(
        session,
        actor=principal,
        action="metric.retire",
        entity_type="metric",
        entity_id=metric.code,
        before=before.model_dump(mode="json"),
        after=after.model_dump(mode="json"),
    )
    return after
