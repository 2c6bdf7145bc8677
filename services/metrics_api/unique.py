"""Adding a row whose key a concurrent request may be adding at the same moment."""

from psycopg.errors import UniqueViolation
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import SQLModel

from services.common.errors import Conflict


async def add_new(session: AsyncSession, row: SQLModel, *, taken: Conflict) -> None:
    """Add and flush ``row``; raise ``taken`` if another transaction stored its key first.

    Callers check for the key beforehand for a clear answer; this covers the race after the check.
    """
    session.add(row)
    try:
        await session.flush()
    except IntegrityError as error:
        if isinstance(error.orig, UniqueViolation):
            raise taken from error
        raise
