"""Loading the demo through the running services, exactly as a place system, a steward and two
signatories would: local metrics on metrics_api; leaders (the latest nominated and confirmed by
both bodies), governance arrangements, plans, targets, resources and approvals on targets_api; CSV
submissions on ingest. A bounded number of requests run at once.

Running it again is safe: local metrics, leaders and agreed plans that are already there are
left alone, and rows a place has already sent are not sent again (the corrections are, and
ingest finds them unchanged). A submission's Idempotency-Key comes from the seed, the place, the
batch and the body, so a retry within a run is answered with the first response.
"""

import asyncio
import contextlib
import hashlib
import sys
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Collection, Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, TypeVar

import httpx
import typer

from services.common.http import (
    RETRYABLE_ERRORS,
    RETRYABLE_STATUSES,
    Backoff,
    json_object,
    problem_detail,
)
from services.common.periods import index, parse
from services.demo import generate
from services.demo.generate import PlaceDemo, Target

T = TypeVar("T")
ATTEMPTS = 6
BACKOFF = Backoff(base_s=0.5, max_s=8.0, max_retry_after_s=8.0)
PROGRESS_POLL_S = 2.0
STATUSES = ("on_track", "achieved", "at_risk", "off_track", "no_data", "not_assessed")


class DemoFailed(Exception):
    """The demo stopped; ``str()`` says why in a line or a few. ``code``: 1 a service refused
    a request, 3 a service could not be reached."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


class DemoCancelled(DemoFailed):
    def __init__(self) -> None:
        super().__init__(
            "stopped before it finished; run it again to finish (what is loaded "
            "already is kept and not sent twice)",
            1,
        )


@dataclass(frozen=True)
class Endpoints:
    metrics_api: str = "http://127.0.0.1:8001"
    targets_api: str = "http://127.0.0.1:8002"
    ingest: str = "http://127.0.0.1:8003"


@dataclass(frozen=True)
class Keys:
    steward: str = field(repr=False)  # E92000001: local metrics, leaders, plans, targets
    submitter: str = field(repr=False)  # E92000001
    # Each body signs with a key scoped to itself, and the two approvals need two keys.
    place_signatory: str = field(repr=False)  # every place: signs for its local authority
    icb_signatory: str = field(repr=False)  # every ICB
    admin: str = field(repr=False)  # reads areas and progress


@dataclass(frozen=True)
class Options:
    seed: int = 1
    years: int = 5
    places: tuple[str, ...] = ()  # only these place codes; empty: every place
    place_limit: int | None = None  # only the first N places in code order
    concurrency: int = 8
    progress_timeout_s: float = 300.0  # how long to wait for progress; 0: do not wait
    today: date | None = None  # default: today


@dataclass
class Summary:
    places: int = 0
    local_metrics_created: int = 0
    leaders_appointed: int = 0
    leaders_confirmed: int = 0
    nominations_declined: int = 0
    nominations_pending: int = 0
    governance_recorded: int = 0
    plans_agreed: int = 0
    plans_already_agreed: int = 0
    plans_sent_back: int = 0
    submissions: int = 0
    accepted: int = 0
    unchanged: int = 0
    superseded: int = 0
    late_rows: int = 0
    missing_rows: int = 0
    step_changes: int = 0
    seconds: float = 0.0
    latest_month: str = ""
    example_place: str = "E08000035"  # Leeds, when it was loaded
    example_icb: str = "E54000054"
    progress: Counter[str] | None = None  # targets by status; None when not waited for
    progress_pending: bool = False
    # The ICBs' answers to the escalations the place raised and the rules opened.
    escalations: Counter[str] = field(default_factory=Counter)


# --- HTTP ------------------------------------------------------------------------------------


class Api:
    """Requests with retries for what may pass (connection failures, 502-504), and every other
    unexpected answer turned into ``DemoFailed`` quoting the service's problem detail."""

    def __init__(self, client: httpx.AsyncClient, cancel: threading.Event | None) -> None:
        self.client = client
        self.cancel = cancel

    async def call(
        self,
        method: str,
        url: str,
        key: str,
        *,
        expect: Collection[int] = (200,),
        repeatable: bool = True,
        **kwargs: Any,
    ) -> httpx.Response:
        """``repeatable``: sending it twice does no harm, so a request that may have reached
        the service is retried; otherwise only one that surely did not."""
        headers = {
            "Authorization": f"Bearer {key}",
            "User-Agent": "joinedup-demo",
            **kwargs.pop("headers", {}),
        }
        reason = ""
        for attempt in range(1, ATTEMPTS + 1):
            if self.cancel is not None and self.cancel.is_set():
                raise DemoCancelled()
            try:
                response = await self.client.request(method, url, headers=headers, **kwargs)
            except RETRYABLE_ERRORS as exc:
                if not repeatable and not isinstance(exc, httpx.ConnectError):
                    raise DemoFailed(f"{method} {url}: {type(exc).__name__}: {exc}", 3) from None
                reason = (
                    f"cannot reach {httpx.URL(url).host}:{httpx.URL(url).port} "
                    f"({type(exc).__name__}: {exc})"
                )
            else:
                if response.status_code in expect:
                    return response
                if response.status_code not in RETRYABLE_STATUSES:
                    raise DemoFailed(
                        describe(method, url, response), 3 if response.status_code >= 500 else 1
                    )
                reason = describe(method, url, response)
            await self.pause(BACKOFF.pause(attempt - 1))
        raise DemoFailed(f"{method} {url}: {reason}; gave up after {ATTEMPTS} attempts", 3)

    async def pause(self, seconds: float) -> None:
        """Sleep, but stop at once when cancelled (Ctrl-C on `joinedup up --demo`)."""
        deadline = time.monotonic() + seconds
        while (remaining := deadline - time.monotonic()) > 0:
            if self.cancel is not None and self.cancel.is_set():
                raise DemoCancelled()
            await asyncio.sleep(min(0.2, remaining))

    async def pages(self, url: str, key: str, **params: Any) -> list[dict[str, Any]]:
        """Every row of a list endpoint."""
        rows: list[dict[str, Any]] = []
        while True:
            body = (
                await self.call(
                    "GET", url, key, params={**params, "limit": 1000, "offset": len(rows)}
                )
            ).json()
            rows += body["data"]
            if not body["data"] or len(rows) >= body["count"]:
                return rows


def describe(method: str, url: str, response: httpx.Response) -> str:
    """A refusal in words: the status, the problem's detail and its first errors."""
    body = json_object(response)
    detail = problem_detail(response, limit=300)
    lines = [
        f"{method} {httpx.URL(url).path} answered {response.status_code} "
        f"{response.reason_phrase}: {detail}"
    ]
    for error in (body.get("errors") or [])[:5]:
        if "row" in error:
            lines.append(
                f"  row {error['row']} {error.get('field')}: {error.get('code')}: "
                f"{error.get('msg')}"
            )
        else:
            lines.append(f"  {'.'.join(map(str, error.get('loc') or []))}: {error.get('msg')}")
    return "\n".join(lines)


# --- progress output -------------------------------------------------------------------------


class Bar:
    """A progress bar on a terminal; without one (a log, a pipe) a line per quarter done."""

    def __init__(self, label: str, total: int) -> None:
        self.label, self.total, self.done, self.quarter = label, total, 0, 0
        self.bar = (
            typer.progressbar(length=total, label=label, file=sys.stderr)
            if sys.stderr.isatty() and total
            else None
        )
        if self.bar is not None:
            self.bar.__enter__()

    def advance(self) -> None:
        self.done += 1
        if self.bar is not None:
            self.bar.update(1)
            return
        if self.quarter < 4 and self.done * 4 >= self.total * (self.quarter + 1):
            while self.quarter < 4 and self.done * 4 >= self.total * (self.quarter + 1):
                self.quarter += 1
            typer.echo(f"{self.label}: {self.done} of {self.total}", err=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)


async def _each(
    items: Sequence[T],
    work: Callable[[T], Awaitable[None]],
    concurrency: int,
    bar: Bar | None = None,
) -> None:
    """``work`` on every item, ``concurrency`` at a time, advancing ``bar`` as each is done;
    the first failure stops the rest."""
    limit = asyncio.Semaphore(concurrency)

    async def one(item: T) -> None:
        async with limit:
            await work(item)
        if bar is not None:
            bar.advance()

    await _all(*(one(item) for item in items))


async def _all(*work: Coroutine[Any, Any, None]) -> None:
    """Run side by side; the first failure cancels the rest and is raised as itself."""
    try:
        async with asyncio.TaskGroup() as group:
            for each in work:
                group.create_task(each)
    except BaseExceptionGroup as failures:
        raise _first(failures) from None


def _first(group: BaseExceptionGroup) -> BaseException:
    first = group.exceptions[0]
    return _first(first) if isinstance(first, BaseExceptionGroup) else first


# --- the demo --------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Proposal:
    plan_id: int
    rejection: generate.Rejection | None  # the ICB is to send it back first


class Loader:
    def __init__(self, api: Api, endpoints: Endpoints, keys: Keys, options: Options) -> None:
        self.api, self.endpoints, self.keys, self.options = api, endpoints, keys, options
        self.summary = Summary()
        self.sent: dict[str, set[tuple[str, str]]] = {}  # per place: (metric, period) stored
        self.proposed: dict[str, _Proposal] = {}  # per place: its plan awaiting signatures

    async def run(self) -> Summary:
        await check_reachable(self.endpoints, self.api.client)
        places, icb_names = await self._places()
        local = generate.local_metrics(self.options.seed, places, icb_names)
        for body in local:
            await self._local_metric(body)
        metrics = await self._metrics({body["code"] for body in local})
        today = self.options.today or date.today()
        demos = generate.build(
            self.options.seed,
            places,
            metrics,
            today=today,
            years=self.options.years,
            icb_names=icb_names,
        )
        self.summary.places = len(demos)
        example = next((d.place for d in demos if d.place.code == "E08000035"), demos[0].place)
        self.summary.example_place, self.summary.example_icb = example.code, example.icb_code
        self.summary.latest_month = generate.last_ended(generate.Periodicity.monthly, today).code
        self.summary.missing_rows = sum(len(d.missing) for d in demos)
        self.summary.step_changes = sum(len(d.steps) for d in demos)
        typer.echo(
            f"demo: {len(demos)} places, {len(metrics)} metrics "
            f"({len(local)} of them local), {self.options.years} years of data to "
            f"{self.summary.latest_month}; seed {self.options.seed}",
            err=True,
        )
        corrected = [d for d in demos if d.corrections]
        bar = Bar("leaders, plans and data", 4 * len(demos) + len(corrected))
        concurrency = self.options.concurrency

        async def plans() -> None:
            # Drafted everywhere, then signed everywhere: each agreement makes targets_api
            # recompute progress, and agreements that come together are recomputed together.
            await _each(demos, self._leaders_and_draft, concurrency, bar)
            await _each(demos, self._agree, concurrency, bar)

        async def data() -> None:
            # Batch by batch across all places, so "late" rows really are sent later.
            for batch, group in (
                (self._first_batch, demos),
                (self._late_batch, demos),
                (self._corrections, corrected),
            ):
                await _each(group, batch, concurrency, bar)

        try:
            # targets_api takes the plans while ingest takes the data: side by side.
            await _all(plans(), data())
        finally:
            bar.close()
        if self.options.progress_timeout_s > 0:
            await self._wait_for_progress(demos)
            # The rules run with each refresh: answered once progress has been computed.
            await self._escalations(demos)
        return self.summary

    async def _escalations(self, demos: Sequence[PlaceDemo]) -> None:
        """The example place asks its ICB for help; then each ICB answers the escalations
        open at it (that one and those the rules opened for off-track targets and missing
        data), each as the seed draws: left open, acknowledged, acknowledged and escalated to
        the region, or acknowledged and resolved. Only open ones are answered, and each always
        the same way, so a second run changes nothing."""
        targets = self.endpoints.targets_api
        await self.api.call(
            "POST",
            f"{targets}/v1/places/{self.summary.example_place}/escalations",
            self.keys.place_signatory,
            expect=(200, 201),
            json=generate.MANUAL_ESCALATION,
        )
        icbs = sorted({d.place.icb_code for d in demos})
        open_ = [
            row
            for icb in icbs
            for row in await self.api.pages(
                f"{targets}/v1/areas/{icb}/escalations", self.keys.admin, state="open"
            )
        ]
        await _each(open_, self._answer_escalation, self.options.concurrency)

    async def _answer_escalation(self, escalation: dict[str, Any]) -> None:
        answers = generate.escalation_answers(self.options.seed, escalation)
        for answer in answers:
            await self.api.call(
                "POST",
                f"{self.endpoints.targets_api}/v1/escalations/{escalation['id']}/{answer}",
                self.keys.icb_signatory,
                expect=(200, 201),
                json={"note": generate.ESCALATION_NOTES[answer]},
            )
        self.summary.escalations[answers[-1] if answers else "open"] += 1

    async def _places(self) -> tuple[list[generate.Place], dict[str, str]]:
        areas = f"{self.endpoints.metrics_api}/v1/areas"
        rows = await self.api.pages(areas, self.keys.admin, level="place")
        icbs = await self.api.pages(areas, self.keys.admin, level="icb")
        places = sorted((generate.Place.from_area(r) for r in rows), key=lambda p: p.code)
        if self.options.places:
            known = {p.code for p in places}
            if unknown := [c for c in self.options.places if c not in known]:
                raise DemoFailed(f"no place with code {', '.join(unknown)}", 2)
            places = [p for p in places if p.code in self.options.places]
        if self.options.place_limit is not None:
            places = places[: self.options.place_limit]
        if not places:
            raise DemoFailed("there are no places to load (run `joinedup seed`)", 1)
        return places, {r["code"]: r["name"] for r in icbs}

    async def _local_metric(self, body: dict[str, Any]) -> None:
        url = f"{self.endpoints.metrics_api}/v1/metrics"
        response = await self.api.call(
            "POST", url, self.keys.steward, json=body, expect=(201, 409), repeatable=False
        )
        if response.status_code == 201:
            self.summary.local_metrics_created += 1
            return
        existing = (await self.api.call("GET", f"{url}/{body['code']}", self.keys.admin)).json()
        if (existing["owner_area_code"], existing["status"]) != (body["owner_area_code"], "active"):
            raise DemoFailed(
                f"metric {body['code']} already exists, owned by "
                f"{existing['owner_area_code']} ({existing['status']}); the demo "
                f"needs it active and owned by {body['owner_area_code']}"
            )

    async def _metrics(self, local: set[str]) -> list[generate.Metric]:
        rows = await self.api.pages(
            f"{self.endpoints.metrics_api}/v1/metrics", self.keys.admin, status="active"
        )
        return [
            generate.Metric.from_api(r)
            for r in rows
            if r["scope"] == "national" or r["code"] in local
        ]

    # --- leaders and plans -------------------------------------------------------------------

    async def _leaders_and_draft(self, demo: PlaceDemo) -> None:
        latest = await self._leaders(demo)
        await self._nominate(demo, latest)
        await self._governance(demo)
        await self._draft(demo)

    async def _leaders(self, demo: PlaceDemo) -> date | None:
        """The earlier terms, agreed before joinedup kept such things: recorded directly.
        Returns the latest term's start afterwards."""
        url = f"{self.endpoints.targets_api}/v1/places/{demo.place.code}/leader"
        terms = (await self.api.call("GET", f"{url}s", self.keys.admin)).json()["data"]
        latest = date.fromisoformat(terms[0]["appointed_on"]) if terms else None
        for leader in demo.leaders[:-1]:
            # A term on or before the latest is already recorded, or was overtaken by a real
            # appointment that the demo must not undo.
            if latest is None or leader.appointed_on > latest:
                response = await self.api.call(
                    "PUT", url, self.keys.steward, json=leader.body(), expect=(200, 201)
                )
                self.summary.leaders_appointed += response.status_code == 201
                latest = leader.appointed_on
        return latest

    async def _nominate(self, demo: PlaceDemo, latest: date | None) -> None:
        """The latest leader, nominated and confirmed by both bodies (after the ICB declined
        another candidate, at some places; still waiting for the ICB, at a few). A run that
        stopped half way is finished: the open nomination and its answers are picked up."""
        leader, spec = demo.leaders[-1], demo.nomination
        if latest is not None and leader.appointed_on <= latest:
            return  # in post already, or overtaken by a later appointment
        url = f"{self.endpoints.targets_api}/v1/places/{demo.place.code}/leader-nominations"
        found = (await self.api.call("GET", url, self.keys.admin, params={"limit": 1000})).json()[
            "data"
        ]
        nomination = next((n for n in found if n["status"] == "nominated"), None)
        if spec.declined is not None and not any(n["status"] == "declined" for n in found):
            nomination = nomination or await self._nomination(url, spec.declined)
            await self._answer(demo, nomination, decline=spec.decline_comment)
            self.summary.nominations_declined += 1
            nomination = None
        nomination = nomination or await self._nomination(url, leader)
        status = (await self._answer(demo, nomination, only_place=spec.pending))["status"]
        self.summary.nominations_pending += status == "nominated"
        self.summary.leaders_confirmed += status == "confirmed"

    async def _nomination(self, url: str, leader: generate.Leader) -> dict[str, Any]:
        return (
            await self.api.call(
                "POST",
                url,
                self.keys.steward,
                json=leader.body(),
                expect=(201,),
                repeatable=False,
            )
        ).json()

    async def _answer(
        self,
        demo: PlaceDemo,
        nomination: dict[str, Any],
        *,
        decline: str | None = None,
        only_place: bool = False,
    ) -> dict[str, Any]:
        """The place's confirmation, then the ICB's confirmation or decline (none with
        ``only_place``), each unless given already; returns the nomination as it ends."""
        answered = {d["organisation_code"] for d in nomination["decisions"]}
        parties = [
            (demo.place.code, demo.plan.place_signatory, self.keys.place_signatory, None),
            (demo.place.icb_code, demo.plan.icb_signatory, self.keys.icb_signatory, decline),
        ]
        for organisation, signatory, key, comment in parties[:1] if only_place else parties:
            if organisation in answered:
                continue
            body = {
                "organisation_code": organisation,
                "signatory": signatory,
                "decision": "decline" if comment else "confirm",
                "comment": comment,
            }
            nomination = (
                await self.api.call(
                    "POST",
                    f"{self.endpoints.targets_api}/v1/leader-nominations/"
                    f"{nomination['id']}/decisions",
                    key,
                    json=body,
                    expect=(201,),
                    repeatable=False,
                )
            ).json()
        return nomination

    async def _governance(self, demo: PlaceDemo) -> None:
        if demo.governance is None:
            return
        response = await self.api.call(
            "PUT",
            f"{self.endpoints.targets_api}/v1/places/{demo.place.code}/governance",
            self.keys.steward,
            json=demo.governance,
            expect=(200, 201),
        )
        self.summary.governance_recorded += response.status_code == 201

    async def _draft(self, demo: PlaceDemo) -> None:
        """The place's plan with its targets and resources, proposed for approval. A plan a
        stopped run left behind is finished rather than duplicated; one already agreed is left
        alone."""
        spec = demo.plan
        plans = (
            await self.api.call(
                "GET",
                f"{self.endpoints.targets_api}/v1/places/{demo.place.code}/plans",
                self.keys.admin,
                params={"limit": 1000},
            )
        ).json()["data"]
        mine = [
            p
            for p in plans
            if p["title"] == spec.title and p["starts_on"] == spec.starts_on.isoformat()
        ]
        if any(p["status"] in ("agreed", "superseded") for p in mine):
            self.summary.plans_already_agreed += 1
            return
        if mine and mine[0]["status"] == "proposed":
            self.proposed[demo.place.code] = _Proposal(mine[0]["id"], rejection=None)
            return
        plan_id = (
            mine[0]["id"]
            if mine
            else (
                await self.api.call(
                    "POST",
                    f"{self.endpoints.targets_api}/v1/places/{demo.place.code}/plans",
                    self.keys.steward,
                    json=spec.body(),
                    expect=(201,),
                    repeatable=False,
                )
            ).json()["id"]
        )
        # The first proposal of a plan the ICB will send back has a timid target.
        rejection = spec.rejection if not mine else None
        first = {t.metric_code: t for t in spec.targets}
        if rejection is not None:
            first[rejection.first.metric_code] = rejection.first
        for target in first.values():
            await self._put_target(plan_id, target)
        if spec.resources is not None:
            await self.api.call(
                "PUT",
                f"{self.endpoints.targets_api}/v1/plans/{plan_id}/resources",
                self.keys.steward,
                json=spec.resources,
            )
        await self._submit_plan(plan_id)
        self.proposed[demo.place.code] = _Proposal(plan_id, rejection)

    async def _agree(self, demo: PlaceDemo) -> None:
        """The place's and the ICB's signatures; a plan with a timid target is first sent back
        by the ICB, raised, and proposed again."""
        proposal = self.proposed.get(demo.place.code)
        if proposal is None:  # agreed by an earlier run
            return
        spec, plan_id = demo.plan, proposal.plan_id
        decided: set[str] = set()
        if proposal.rejection is not None:
            await self._decide(
                plan_id, demo.place.code, spec.place_signatory, self.keys.place_signatory
            )
            await self._decide(
                plan_id,
                demo.place.icb_code,
                spec.icb_signatory,
                self.keys.icb_signatory,
                reject=proposal.rejection.comment,
            )
            await self._put_target(
                plan_id,
                next(
                    t for t in spec.targets if t.metric_code == proposal.rejection.first.metric_code
                ),
            )
            await self._submit_plan(plan_id)
            self.summary.plans_sent_back += 1
        else:
            plan = (
                await self.api.call(
                    "GET", f"{self.endpoints.targets_api}/v1/plans/{plan_id}", self.keys.admin
                )
            ).json()
            decided = {
                a["organisation_code"]
                for a in plan["approvals"]
                if a["approval_round"] == plan["approval_round"]
            }
        status = None
        for organisation, signatory, key in (
            (demo.place.code, spec.place_signatory, self.keys.place_signatory),
            (demo.place.icb_code, spec.icb_signatory, self.keys.icb_signatory),
        ):
            if organisation not in decided:
                status = (await self._decide(plan_id, organisation, signatory, key))["status"]
        if status != "agreed":
            raise DemoFailed(
                f"plan {plan_id} for {demo.place.code} is {status} after both approvals, not agreed"
            )
        self.summary.plans_agreed += 1

    async def _put_target(self, plan_id: int, target: Target) -> None:
        await self.api.call(
            "PUT",
            f"{self.endpoints.targets_api}/v1/plans/{plan_id}/targets/{target.metric_code}",
            self.keys.steward,
            json=target.body(),
        )

    async def _submit_plan(self, plan_id: int) -> None:
        await self.api.call(
            "POST",
            f"{self.endpoints.targets_api}/v1/plans/{plan_id}/submit",
            self.keys.steward,
            repeatable=False,
        )

    async def _decide(
        self,
        plan_id: int,
        organisation: str,
        signatory: str,
        key: str,
        *,
        reject: str | None = None,
    ) -> dict[str, Any]:
        body = {
            "organisation_code": organisation,
            "signatory": signatory,
            "decision": "reject" if reject else "approve",
            "comment": reject,
        }
        return (
            await self.api.call(
                "POST",
                f"{self.endpoints.targets_api}/v1/plans/{plan_id}/approvals",
                key,
                json=body,
                expect=(201,),
                repeatable=False,
            )
        ).json()

    # --- data --------------------------------------------------------------------------------

    async def _first_batch(self, demo: PlaceDemo) -> None:
        rows = await self.api.pages(
            f"{self.endpoints.ingest}/v1/observations", self.keys.admin, place_code=demo.place.code
        )
        self.sent[demo.place.code] = {(r["metric_code"], r["period"]) for r in rows}
        await self._send(demo, "first", demo.history)

    async def _late_batch(self, demo: PlaceDemo) -> None:
        if await self._send(demo, "late", demo.late):
            self.summary.late_rows += len(demo.late)

    async def _corrections(self, demo: PlaceDemo) -> None:
        # Always sent: a correction already made is found unchanged and stored once.
        await self._send(demo, "corrections", demo.corrections, only_new=False)

    async def _send(
        self,
        demo: PlaceDemo,
        batch: str,
        rows: Sequence[generate.Observation],
        *,
        only_new: bool = True,
    ) -> bool:
        sent = self.sent.get(demo.place.code, set())
        if only_new:
            rows = [r for r in rows if (r.metric_code, r.period) not in sent]
        if not rows:
            return False
        body = generate.csv_text(rows).encode()
        digest = hashlib.sha256(body).hexdigest()[:16]
        response = await self.api.call(
            "POST",
            f"{self.endpoints.ingest}/v1/submissions",
            self.keys.submitter,
            params={"mode": "atomic"},
            content=body,
            expect=(201,),
            headers={
                "Content-Type": "text/csv",
                "Idempotency-Key": (
                    f"joinedup-demo:{self.options.seed}:{demo.place.code}:{batch}:{digest}"
                ),
            },
        )
        result = response.json()
        self.summary.submissions += 1
        self.summary.accepted += result["accepted"] - result.get("unchanged", 0)
        self.summary.unchanged += result.get("unchanged", 0)
        self.summary.superseded += result["superseded"]
        return True

    async def _wait_for_progress(self, demos: Sequence[PlaceDemo]) -> None:
        """Until every place's progress includes the latest period the demo sent for each of
        its targets' metrics: ingest tells targets_api through its outbox, and targets_api
        recomputes in the background, so this takes a while after the last submission."""
        latest = {d.place.code: self._latest_sent(d) for d in demos}
        summaries: dict[str, dict[str, int]] = {}
        waiting = sorted(latest)
        deadline = time.monotonic() + self.options.progress_timeout_s
        typer.echo("waiting for targets_api to compute progress ...", err=True)
        # One request a round while England's figures are pending, rather than one per place.
        england = f"{self.endpoints.targets_api}/v1/areas/E92000001/performance"
        while (await self.api.call("GET", england, self.keys.admin)).json()[
            "refresh_pending"
        ] and time.monotonic() < deadline:
            await self.api.pause(PROGRESS_POLL_S)
        bar = Bar("progress computed", len(waiting))

        async def check(code: str) -> None:
            body = (
                await self.api.call(
                    "GET",
                    f"{self.endpoints.targets_api}/v1/places/{code}/progress",
                    self.keys.admin,
                )
            ).json()
            summaries[code] = body["summary"]
            if not body["refresh_pending"] and all(
                item["latest_period"] == latest[code][item["metric_code"]]
                for item in body["items"]
                if item["metric_code"] in latest[code]
            ):
                waiting.remove(code)
                bar.advance()

        try:
            while True:
                await _each(list(waiting), check, self.options.concurrency)
                if not waiting or time.monotonic() > deadline:
                    break
                await self.api.pause(PROGRESS_POLL_S)
        finally:
            bar.close()
        self.summary.progress = Counter()
        for summary in summaries.values():
            self.summary.progress.update({s: n for s, n in summary.items() if n})
        self.summary.progress_pending = bool(waiting)

    def _latest_sent(self, demo: PlaceDemo) -> dict[str, str]:
        """The latest period stored for each metric: sent now or by an earlier run."""
        periods: dict[str, list[str]] = {}
        stored = self.sent.get(demo.place.code, set())
        for metric, period in (
            *stored,
            *((r.metric_code, r.period) for r in (*demo.history, *demo.late)),
        ):
            periods.setdefault(metric, []).append(period)
        return {
            metric: max(found, key=lambda p: index(parse(p))) for metric, found in periods.items()
        }


async def check_reachable(endpoints: Endpoints, client: httpx.AsyncClient | None = None) -> None:
    """``DemoFailed`` (code 3) unless every service answers /readyz."""
    async with contextlib.AsyncExitStack() as stack:
        if client is None:
            client = await stack.enter_async_context(httpx.AsyncClient())
        for name, url in (
            ("metrics_api", endpoints.metrics_api),
            ("targets_api", endpoints.targets_api),
            ("ingest", endpoints.ingest),
        ):
            try:
                response = await client.get(f"{url}/readyz", timeout=5.0)
            except httpx.HTTPError as exc:
                raise DemoFailed(
                    f"{name} is not reachable at {url} ({type(exc).__name__}); "
                    f"start the services with `joinedup up`, or give their "
                    f"addresses",
                    3,
                ) from None
            if response.status_code != 200:
                raise DemoFailed(
                    f"{name} at {url} is not ready: {response.status_code} {response.text[:200]}", 3
                )


async def run(
    endpoints: Endpoints, keys: Keys, options: Options, *, cancel: threading.Event | None = None
) -> Summary:
    """Load the demo; ``DemoFailed`` says why if it cannot. ``cancel`` stops it early."""
    started = time.monotonic()
    timeout = httpx.Timeout(120.0, connect=10.0)
    limits = httpx.Limits(max_connections=options.concurrency * 2)
    async with httpx.AsyncClient(timeout=timeout, limits=limits) as client:
        summary = await Loader(Api(client, cancel), endpoints, keys, options).run()
    summary.seconds = time.monotonic() - started
    return summary


def report(summary: Summary, endpoints: Endpoints) -> list[str]:
    """What the demo did, and where to look next."""
    lines = [
        f"Demo loaded in {summary.seconds:.0f} s: {summary.places} places.",
        f"  leaders: {summary.leaders_appointed} earlier terms recorded, "
        f"{summary.leaders_confirmed} confirmed by place and ICB "
        f"({summary.nominations_declined} after the ICB declined another candidate), "
        f"{summary.nominations_pending} waiting for the ICB",
        f"  governance: {summary.governance_recorded} arrangements recorded",
        f"  plans:   {summary.plans_agreed} agreed by place and ICB ({summary.plans_sent_back} "
        f"after the ICB sent them back once), {summary.plans_already_agreed} already agreed",
        f"  local metrics: {summary.local_metrics_created} created",
        f"  data:    {summary.accepted:,} observations stored in {summary.submissions} "
        f"submissions, {summary.superseded} of them corrections; {summary.late_rows:,} rows "
        f"sent in a later batch, {summary.missing_rows:,} never sent; "
        f"{summary.step_changes} series with a step change",
    ]
    if summary.progress is not None:
        counts = ", ".join(
            f"{summary.progress[s]} {s.replace('_', ' ')}" for s in STATUSES if summary.progress[s]
        )
        pending = (
            " (still computing: figures will change for a while)"
            if summary.progress_pending
            else ""
        )
        lines.append(f"  progress: {counts or 'none yet'}{pending}")
    if summary.escalations:
        answered = ", ".join(f"{n} {a}" for a, n in sorted(summary.escalations.items()))
        lines.append(f"  escalations answered by the ICBs: {answered}")
    targets, ingest = endpoints.targets_api, endpoints.ingest
    place, icb = summary.example_place, summary.example_icb
    lines += [
        "Look around with the admin key `joinedup up` printed (or `joinedup keys create "
        "--role assessor --name me`) as a Bearer token:",
        f"  {targets}/v1/places/{place}/progress   a place against its targets",
        f"  {targets}/v1/places/{place}/progress/bcf-discharge-usual-residence   "
        f"its series with SPC",
        f"  {targets}/v1/areas/{icb}/performance   its ICB, rolled up (or E92000001: England)",
        f"  {targets}/v1/metrics/bcf-falls-65plus/league-table?level=icb",
        f"  {ingest}/v1/completeness?period={summary.latest_month}&area={icb}",
        "Timeliness: the demo sends years of data today, so /v1/completeness counts every "
        "period whose deadline has passed as late; only the latest periods show on time or "
        "pending. 'Late' in the demo means sent in a later batch.",
    ]
    return lines
