"""The guard on requests joinedup sends to addresses its users chose (webhook receivers): never
to a loopback, private, link-local (169.254.169.254: the cloud's metadata service), reserved or
multicast address, or any other that is not global, unless the operator allowed its network
(``JOINEDUP_WEBHOOK_ALLOWED_NETWORKS``). Otherwise a key holder could make the worker POST into
the network it runs in (server-side request forgery).

Checked twice: when a subscription is made (services/targets_api/webhooks/service.py), so a
user is told at once; and at each delivery by ``GuardedTransport``, which resolves the host
itself, checks every address and connects to the checked one, so a name that resolved to a
public address then and to a private one now (DNS rebinding) is refused too.
"""

import asyncio
import ipaddress
import socket
from collections.abc import Iterable, Sequence

import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

# A name that takes longer than this to resolve is not checked at subscribe time: delivery
# checks it again anyway, and a request is not held for a slow resolver.
SUBSCRIBE_RESOLVE_TIMEOUT_S = 2.0


def parse_networks(value: str) -> tuple[IPNetwork, ...]:
    """``JOINEDUP_WEBHOOK_ALLOWED_NETWORKS``: comma-separated CIDRs ("10.1.0.0/16, fd00::/8");
    a bad one raises ValueError, so the service does not start with a setting it misreads."""
    return tuple(
        ipaddress.ip_network(part.strip(), strict=False)
        for part in value.split(",")
        if part.strip()
    )


WHY = (
    "webhooks are sent only to global addresses (an operator allows a private network with "
    "JOINEDUP_WEBHOOK_ALLOWED_NETWORKS)"
)


def refusal(address: IPAddress, allowed: Sequence[IPNetwork]) -> str | None:
    """What kind of address ``address`` is if it may not be sent to ("a loopback address"), or
    None if it may."""
    # ::ffff:10.0.0.1 reaches 10.0.0.1: judge the IPv4 address it carries.
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if any(address in network for network in allowed if network.version == address.version):
        return None
    for kind, flag in (
        ("a loopback", address.is_loopback),
        ("a link-local", address.is_link_local),
        ("a private", address.is_private),
        ("a multicast", address.is_multicast),
        ("a reserved", address.is_reserved),
        ("an unspecified", address.is_unspecified),
        ("a non-global", not address.is_global),
    ):
        if flag:
            return f"{kind} address"
    return None


def literal(host: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


async def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address ``host`` resolves to, by asyncio's getaddrinfo (in a thread: the event
    loop is not held)."""
    infos = await asyncio.get_running_loop().getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )
    # The scope of a link-local IPv6 address ("fe80::1%eth0") is no part of the address.
    return list(
        dict.fromkeys(ipaddress.ip_address(str(info[4][0]).split("%")[0]) for info in infos)
    )


def first_refusal(addresses: Iterable[IPAddress], allowed: Sequence[IPNetwork]) -> str | None:
    """The first refused address and its kind ("10.0.0.7, a private address"), or None."""
    for address in addresses:
        if kind := refusal(address, allowed):
            return f"{address}, {kind}"
    return None


async def subscribe_refusal(url: httpx.URL, allowed: Sequence[IPNetwork]) -> str | None:
    """Why a receiver at ``url`` would never be sent to, or None. A name that does not resolve
    (yet) passes: it may be set up after the subscription, and delivery checks it then."""
    if (address := literal(url.host)) is not None:
        why = refusal(address, allowed)
        return f"{url.host} is {why}: {WHY}" if why else None
    try:
        async with asyncio.timeout(SUBSCRIBE_RESOLVE_TIMEOUT_S):
            addresses = await resolve(url.host, url.port or (443 if url.scheme == "https" else 80))
    except (OSError, TimeoutError):
        return None
    if why := first_refusal(addresses, allowed):
        return f"{url.host} resolves to {why}: {WHY}"
    return None


class EgressRefused(httpx.TransportError):
    """The receiver's address is not one joinedup sends to; an httpx error, so a deliverer
    records it as it records a connection refused (services/common/delivery.py: post)."""


class GuardedTransport(httpx.AsyncHTTPTransport):
    """An httpx transport that resolves the request's host, refuses it if any of its
    addresses is refused, and otherwise connects to the first of them: the address checked is
    the address used. The Host header keeps the name (httpx set it from the URL), and for https
    the ``sni_hostname`` extension makes TLS ask for and verify the name's certificate."""

    def __init__(self, allowed: Sequence[IPNetwork], **kwargs: object) -> None:
        # No keep-alive: a pooled connection is keyed by the address connected to, so one made
        # (and its certificate checked) for one name could carry another name's request.
        # Receivers are told of events now and then: a connection each is cheap enough.
        kwargs.setdefault("limits", httpx.Limits(max_keepalive_connections=0))
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.allowed = tuple(allowed)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        if (address := literal(host)) is not None:
            addresses = [address]
        else:
            try:
                addresses = await resolve(host, request.url.port or 0)
            except OSError as exc:
                raise httpx.ConnectError(
                    f"{host} does not resolve: {exc}", request=request
                ) from exc
        if why := first_refusal(addresses, self.allowed):
            if address is not None:
                said = f"{host} is {refusal(address, self.allowed)}"
            else:
                said = f"{host} resolves to {why}"
            raise EgressRefused(f"not sent: {said}; {WHY}", request=request)
        if address is None:
            request.url = request.url.copy_with(host=str(addresses[0]))
            if request.url.scheme == "https":
                request.extensions = {**request.extensions, "sni_hostname": host}
        return await super().handle_async_request(request)
