"""WebFetch may reach public addresses only.

The CLI's own checks do not stop a fetch of the host's private network: it refuses hostnames
without a dot (`localhost`, `[::1]`) but not `127.0.0.1`, `10.0.0.5` or a public name that
resolves to a private address, and its remote "domain check" is a blocklist of domains, not of
addresses. So the bridge's PreToolUse gate resolves the URL's host itself and denies the call
unless every address it resolves to is public. The lookup is the only I/O here
(`fetch_addresses`, awaited by the slot before it asks the pure `fetch_denial`).

What this cannot see: a name that resolves to a public address for the check and to a private
one when the CLI fetches a moment later (DNS rebinding). The CLI does not follow redirects to
another host (it returns them to the model, whose next WebFetch passes this gate again).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from typing import Any
from urllib.parse import urlsplit

FETCH_TOOL = "WebFetch"
RESOLVE_TIMEOUT = 5.0
NAT64 = ipaddress.ip_network("64:ff9b::/96")
# Characters that WHATWG URL parsing (the CLI's) and Python's urlsplit read differently, e.g.
# `http://127.0.0.1\@example.com/` is 127.0.0.1 to the CLI and example.com to urlsplit, and
# WHATWG drops tabs and newlines anywhere. A URL with one of them is refused, not interpreted.
UNPRINTABLE = frozenset(chr(c) for c in range(0x21)) | {"\x7f"}
AMBIGUOUS_IN_HOST = frozenset("\\@%") | UNPRINTABLE


def fetch_url(request: dict[str, Any]) -> str | None:
    """The URL of a WebFetch hook callback; None for any other tool."""
    hook_input = request.get("input") or {}
    if hook_input.get("tool_name") != FETCH_TOOL:
        return None
    url = (hook_input.get("tool_input") or {}).get("url")
    return url if isinstance(url, str) else ""


def fetch_host(url: str) -> str | None:
    """The host the CLI would connect to, or None when the URL is not one the gate can judge."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not host:
        return None
    if any(ch in UNPRINTABLE for ch in url) or any(ch in AMBIGUOUS_IN_HOST for ch in parts.netloc):
        return None
    try:
        return host.encode("idna").decode("ascii") if not host.isascii() else host
    except UnicodeError:
        return None


async def fetch_addresses(request: dict[str, Any], timeout: float = RESOLVE_TIMEOUT) -> tuple[str, ...] | None:
    """Every address a WebFetch's host resolves to (empty when it does not resolve); None: not WebFetch."""
    url = fetch_url(request)
    if url is None:
        return None
    host = fetch_host(url)
    if host is None:
        return ()
    loop = asyncio.get_running_loop()
    try:
        infos = await asyncio.wait_for(loop.getaddrinfo(host, None, type=socket.SOCK_STREAM), timeout)
    except (OSError, TimeoutError, UnicodeError):
        return ()
    return tuple(dict.fromkeys(str(info[4][0]).split("%")[0] for info in infos))


def _public(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if ip in NAT64:
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None and not _public(str(embedded)):
            return False
    return ip.is_global and not ip.is_multicast


def fetch_denial(url: str, addresses: tuple[str, ...]) -> str | None:
    """Why a WebFetch of `url` (whose host resolved to `addresses`) is refused; None: allowed. Pure."""
    if fetch_host(url) is None:
        return "WebFetch is refused by the bridge: only plain http(s) URLs with a host name can be fetched."
    if not addresses:
        return "WebFetch is refused by the bridge: the URL's host does not resolve."
    private = [a for a in addresses if not _public(a)]
    if private:
        return (
            "WebFetch is refused by the bridge: the URL's host resolves to a private, loopback, link-local "
            "or otherwise non-public address."
        )
    return None
