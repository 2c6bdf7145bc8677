"""Signing in: who a key is, asked of the APIs (they alone can tell), and where a person starts."""

from services.common.auth import ENGLAND
from services.web.api import Apis, Peer
from services.web.sessions import Identity


async def identify(apis: Apis, key: str) -> Identity:
    """The key's identity from ``GET /v1/me``; ``KeyRejected`` when the APIs do not know it."""
    me = await apis.as_key(key).get(Peer.metrics_api, "/v1/me")
    return Identity(key_id=me["id"], name=me["name"], role=me["role"], scopes=tuple(me["scopes"]))


def start_page(identity: Identity) -> str:
    """A signatory starts at the plans waiting for them; anyone else at the area their key is
    scoped to (one area), or England."""
    if identity.role == "signatory":
        return "/approvals"
    if len(identity.scopes) == 1:
        return f"/areas/{identity.scopes[0]}"
    return f"/areas/{ENGLAND}"
