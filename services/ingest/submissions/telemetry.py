"""What place systems send, counted for Prometheus by place: submissions by outcome and rows
accepted or rejected. A place code that is not in the catalogue is counted as "unknown", so a
label never takes arbitrary text from a request."""

from prometheus_client import Counter
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.catalogue import Catalogue

SUBMISSIONS = Counter(
    "joinedup_ingest_submissions_total",
    "Submissions stored or refused, by place and status (accepted, partially_accepted, rejected).",
    ["place", "status"],
)
ROWS = Counter(
    "joinedup_ingest_rows_total",
    "Submitted rows by place and outcome (accepted or rejected).",
    ["place", "outcome"],
)


def count(catalogue: Catalogue, by_place: dict[str, tuple[int, int]], status: str) -> None:
    """One submission: once for each place it names, with that place's rows."""
    for place, (valid, rejected) in by_place.items():
        label = place if catalogue.area(place) is not None else "unknown"
        SUBMISSIONS.labels(label, status).inc()
        # A refused submission stores none of its rows, valid or not.
        accepted = valid if status != "rejected" else 0
        ROWS.labels(label, "accepted").inc(accepted)
        ROWS.labels(label, "rejected").inc(valid + rejected - accepted)


def count_once_committed(
    session: AsyncSession, catalogue: Catalogue, by_place: dict[str, tuple[int, int]], status: str
) -> None:
    """Counted when the transaction commits: a submission that fails to store is not counted
    as stored."""
    event.listen(
        session.sync_session,
        "after_commit",
        lambda _: count(catalogue, by_place, status),
        once=True,
    )
