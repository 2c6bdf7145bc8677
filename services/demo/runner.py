"""Running the demo with keys of its own, made for the run and revoked when it ends however it
ends: from `joinedup demo`, or in a thread beside the supervisor for `joinedup up --demo`."""

import asyncio
import os
import threading
from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar

import typer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from services.common import keys
from services.common.auth import ENGLAND, Role
from services.common.models import Area
from services.demo import load
from services.supervisor import say

T = TypeVar("T")


class Transact(Protocol):
    """Runs ``work`` in one committed transaction on the demo's database and returns its result
    (the CLI's, which ends the command with one line if the database refuses)."""

    def __call__(self, work: Callable[[AsyncSession], Awaitable[T]], /) -> T: ...


async def demo_keys(session: AsyncSession) -> tuple[list[int], load.Keys]:
    """A steward and a submitter for all of England, an admin to read with, and two signatories:
    one scoped to every place (their local authorities) and one to every ICB, because a plan is
    agreed by two bodies, each with a key of its own."""
    query = select(Area).order_by(col(Area.code))
    areas = list((await session.execute(query)).scalars())

    def codes(level: str) -> list[str]:
        return [area.code for area in areas if area.level == level]

    wanted = {
        "steward": (Role.steward, [ENGLAND]),
        "submitter": (Role.submitter, [ENGLAND]),
        "place_signatory": (Role.signatory, codes("place")),
        "icb_signatory": (Role.signatory, codes("icb")),
        "admin": (Role.admin, []),
    }
    made = {}
    for name, (role, scopes) in wanted.items():
        made[name] = await keys.create(
            session,
            name=f"demo {name.replace('_', ' ')} (joinedup demo, pid {os.getpid()})",
            role=role,
            scopes=scopes,
        )
    demo = load.Keys(**{name: key for name, (_, key) in made.items()})
    return [keys.id_of(row) for row, _ in made.values()], demo


async def revoke_demo_keys(session: AsyncSession, key_ids: list[int]) -> None:
    for key_id in key_ids:
        await keys.revoke(session, key_id)


# The web app's demo sign-in (`joinedup up --demo`): one key per kind of user, scoped as a real
# one would be, so each sees what that user may.
WEB_DEMO_ROLES: dict[str, tuple[Role, list[str]]] = {
    "assessor (England)": (Role.assessor, []),
    "viewer (England)": (Role.viewer, []),
    "signatory for Leeds City Council": (Role.signatory, ["E08000035"]),
    "signatory for West Yorkshire ICB": (Role.signatory, ["E54000054"]),
    "steward for West Yorkshire": (Role.steward, ["E54000054"]),
    "submitter for Leeds": (Role.submitter, ["E08000035"]),
}


async def web_demo_keys(session: AsyncSession) -> tuple[list[int], dict[str, str]]:
    """Keys for the web app's demo sign-in, made for this run of `up --demo` and revoked when
    it stops; they reach only the web process, which never shows them."""
    ids, made = [], {}
    for label, (role, scopes) in WEB_DEMO_ROLES.items():
        row, made[label] = await keys.create(
            session,
            name=f"web demo {label} (joinedup up, pid {os.getpid()})",
            role=role,
            scopes=scopes,
        )
        ids.append(keys.id_of(row))
    return ids, made


def run_demo(
    transact: Transact,
    endpoints: load.Endpoints,
    options: load.Options,
    *,
    cancel: threading.Event | None = None,
    keys_made: Callable[[list[int]], None] | None = None,
) -> int:
    """Load the demo with keys made for this run and revoked when it ends, however it ends;
    print what it did and return the exit code."""
    try:  # before making keys, so that a mistyped address leaves nothing behind
        asyncio.run(load.check_reachable(endpoints))
    except load.DemoFailed as failure:
        typer.echo(f"error: demo: {failure}", err=True)
        return failure.code
    key_ids, demo = transact(demo_keys)
    if keys_made is not None:
        keys_made(key_ids)
    try:
        summary = asyncio.run(load.run(endpoints, demo, options, cancel=cancel))
    except load.DemoFailed as failure:
        typer.echo(f"error: demo: {failure}", err=True)
        return failure.code
    finally:
        transact(lambda session: revoke_demo_keys(session, key_ids))
    for line in load.report(summary, endpoints):
        typer.echo(line)
    return 0


class DemoInBackground:
    """`joinedup up --demo`: the demo in a thread once the services are ready, so the
    supervisor keeps watching them meanwhile. Ctrl-C (the supervisor's ``stopping``) cancels
    it; ``finish`` waits for it and makes sure its keys are revoked."""

    JOIN_TIMEOUT_S = 30.0

    def __init__(
        self, transact: Transact, endpoints: load.Endpoints, cancel: threading.Event
    ) -> None:
        self.transact, self.endpoints, self.cancel = transact, endpoints, cancel
        self.key_ids: list[int] = []
        self.thread = threading.Thread(target=self._run, name="joinedup-demo", daemon=True)

    def start(self) -> None:
        say("demo: loading demo data through the APIs (Ctrl-C stops it and everything)")
        self.thread.start()

    def _run(self) -> None:
        try:
            code = run_demo(
                self.transact,
                self.endpoints,
                load.Options(),
                cancel=self.cancel,
                keys_made=self.key_ids.extend,
            )
        except (Exception, typer.Exit) as exc:  # noqa: BLE001 (reported, never silent)
            code = getattr(exc, "exit_code", 1)
        if self.cancel.is_set():
            return
        if code:
            say(
                "\n!!! the demo failed (see above); the services keep running. Press Ctrl-C "
                "to stop.\n"
            )
        else:
            say("The demo data is loaded; the services keep running. Press Ctrl-C to stop.\n")

    def finish(self) -> None:
        self.cancel.set()
        if not self.thread.is_alive():
            return
        self.thread.join(self.JOIN_TIMEOUT_S)
        if self.thread.is_alive() and self.key_ids:  # stuck: revoke its keys from here
            self.transact(lambda session: revoke_demo_keys(session, self.key_ids))
