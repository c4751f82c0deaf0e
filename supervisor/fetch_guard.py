"""WebFetch may reach public addresses only.

The CLI's own checks do not stop a fetch of the host's private network: it refuses hostnames
without a dot (`localhost`, `[::1]`) but not `127.0.0.1`, `10.0.0.5` or a public name that
resolves to a private address, and its remote "domain check" is a blocklist of domains, not of
addresses. So the bridge's PreToolUse gate reads the URL's host as the CLI does (an address in
any numeric spelling is that address: `address_gate`), resolves a name itself, and denies the
call unless every address is public. The lookup is the only I/O here (`fetch_addresses`,
awaited by the slot before it asks the pure `fetch_denial`).

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

from supervisor.address_gate import IPAddress, is_public, parse_host

FETCH_TOOL = "WebFetch"
RESOLVE_TIMEOUT = 5.0
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


def fetch_target(url: str) -> IPAddress | str | None:
    """The host the CLI would connect to (an address, or a name to resolve), or None when the URL
    is not one the gate can judge."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    if any(ch in UNPRINTABLE for ch in url) or any(ch in AMBIGUOUS_IN_HOST for ch in parts.netloc):
        return None
    netloc = parts.netloc
    if netloc.startswith("["):
        host = netloc[: netloc.find("]") + 1]
    else:
        host = netloc.rpartition(":")[0] if ":" in netloc else netloc
    return parse_host(host)


def fetch_host(url: str) -> str | None:
    """`fetch_target` as text (an address in its canonical form)."""
    target = fetch_target(url)
    return None if target is None else str(target)


async def fetch_addresses(request: dict[str, Any], timeout: float = RESOLVE_TIMEOUT) -> tuple[str, ...] | None:
    """Every address a WebFetch's host resolves to (empty when it does not resolve); None: not WebFetch."""
    url = fetch_url(request)
    if url is None:
        return None
    host = fetch_target(url)
    if host is None:
        return ()
    if not isinstance(host, str):
        return (str(host),)  # an address host: nothing to look up
    loop = asyncio.get_running_loop()
    try:
        infos = await asyncio.wait_for(loop.getaddrinfo(host, None, type=socket.SOCK_STREAM), timeout)
    except (OSError, TimeoutError, UnicodeError):
        return ()
    return tuple(dict.fromkeys(str(info[4][0]).split("%")[0] for info in infos))


def _public(address: str) -> bool:
    try:
        return is_public(ipaddress.ip_address(address))
    except ValueError:
        return False


def fetch_denial(url: str, addresses: tuple[str, ...]) -> str | None:
    """Why a WebFetch of `url` (whose host resolved to `addresses`) is refused; None: allowed. Pure."""
    target = fetch_target(url)
    if target is None:
        return "WebFetch is refused by the bridge: only plain http(s) URLs with a host name can be fetched."
    if not isinstance(target, str):
        addresses = (str(target),)  # an address host is judged as the CLI reads it, whatever was looked up
    if not addresses:
        return "WebFetch is refused by the bridge: the URL's host does not resolve."
    private = [a for a in addresses if not _public(a)]
    if private:
        return (
            "WebFetch is refused by the bridge: the URL's host resolves to a private, loopback, link-local "
            "or otherwise non-public address."
        )
    return None
