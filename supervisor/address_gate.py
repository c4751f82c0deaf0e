"""Which hosts and addresses WebFetch may reach: the host as the CLI reads it, and a verdict. Pure.

The CLI is a JavaScript program; its `new URL(...)` follows the WHATWG URL standard, which reads
a host that ends in a number as an IPv4 address in any of the legacy numeric spellings
(`2130706433`, `0177.0.0.1`, `0x7f.1`, `127.1`, mixed, with a trailing dot). A gate that handed
such a host to DNS would depend on the resolver's reading matching the CLI's, so the host is
normalised here exactly as the standard does, and an address host is judged without a lookup.

The verdict is an allow-list in spirit: an IPv4 address must lie outside every special-purpose
range that is not globally reachable (IANA's registry, plus multicast and 240/4); an IPv6 address
must be global unicast (2000::/3) outside the special ranges, and every IPv6 form that carries an
IPv4 address (mapped, translated, compatible, NAT64, 6to4, Teredo) is judged by that address;
the local-use NAT64 prefix, whose layout only the local network knows, is refused outright.
"""

from __future__ import annotations

import ipaddress
import string
import unicodedata

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

V4 = ipaddress.IPv4Network
V6 = ipaddress.IPv6Network

# IPv4 ranges no fetch may reach (RFC 6890 / IANA special-purpose registry, not globally reachable).
REFUSED_V4 = (
    V4("0.0.0.0/8"),  # "this network"
    V4("10.0.0.0/8"),  # private
    V4("100.64.0.0/10"),  # shared address space (carrier-grade NAT)
    V4("127.0.0.0/8"),  # loopback
    V4("169.254.0.0/16"),  # link-local (cloud metadata)
    V4("172.16.0.0/12"),  # private
    V4("192.0.0.0/24"),  # IETF protocol assignments
    V4("192.0.2.0/24"),  # documentation (TEST-NET-1)
    V4("192.88.99.0/24"),  # deprecated 6to4 relay anycast
    V4("192.168.0.0/16"),  # private
    V4("198.18.0.0/15"),  # benchmarking
    V4("198.51.100.0/24"),  # documentation (TEST-NET-2)
    V4("203.0.113.0/24"),  # documentation (TEST-NET-3)
    V4("224.0.0.0/4"),  # multicast
    V4("240.0.0.0/4"),  # reserved, and the limited broadcast 255.255.255.255
)

GLOBAL_UNICAST = V6("2000::/3")
# IPv6 forms whose meaning is the IPv4 address in their last 32 bits.
EMBEDDED_LOW32 = (
    V6("::ffff:0:0/96"),  # IPv4-mapped
    V6("::ffff:0:0:0/96"),  # IPv4-translated (SIIT)
    V6("::/96"),  # IPv4-compatible (deprecated; also :: and ::1)
    V6("64:ff9b::/96"),  # NAT64 well-known prefix
    V6("64:ff9b:1::/48"),  # NAT64 local-use prefix
)
# The local-use NAT64 prefix is the local network's own: its translator may use any RFC 6052
# layout (the IPv4 address need not be the last 32 bits), and it is not globally reachable. So
# it is refused whatever it seems to embed.
NAT64_LOCAL = V6("64:ff9b:1::/48")
SIX_TO_FOUR = V6("2002::/16")
TEREDO = V6("2001::/32")
# Inside 2000::/3 but not a destination on the public internet.
REFUSED_V6 = (
    V6("2001::/23"),  # IETF protocol assignments (benchmarking 2001:2::/48, ORCHID, ...)
    V6("2001:db8::/32"),  # documentation
    V6("3fff::/20"),  # documentation
)
# WHATWG host characters: anything else in an ASCII host is refused rather than interpreted.
HOST_CHARACTERS = frozenset(string.ascii_lowercase + string.digits + "-._")


def is_public(ip: IPAddress) -> bool:
    """May a fetch reach this address? Refuses everything that is not globally reachable unicast."""
    if isinstance(ip, ipaddress.IPv4Address):
        return ip.is_global and not any(ip in net for net in REFUSED_V4)
    if ip in NAT64_LOCAL:
        return False
    embedded = embedded_ipv4(ip)
    if embedded:
        return all(is_public(v4) for v4 in embedded)
    return ip in GLOBAL_UNICAST and not any(ip in net for net in REFUSED_V6)


def embedded_ipv4(ip: ipaddress.IPv6Address) -> tuple[ipaddress.IPv4Address, ...]:
    """The IPv4 address(es) an IPv6 form stands for; empty for a plain IPv6 address."""
    if any(ip in net for net in EMBEDDED_LOW32):
        return (ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF),)
    if ip in SIX_TO_FOUR:
        return (ipaddress.IPv4Address((int(ip) >> 80) & 0xFFFFFFFF),)
    if ip in TEREDO:
        server, client = ip.teredo or (ipaddress.IPv4Address(0), ipaddress.IPv4Address(0))
        return (server, client)
    return ()


def parse_host(host: str) -> IPAddress | str | None:
    """The host a WHATWG URL parser reads from a URL's host text: an address, a domain name, or
    None when the parser would fail (or the host is one the gate does not interpret).

    `host` is the text between `//` and the port, brackets included for IPv6, with no
    percent-escapes (the caller refuses those)."""
    if host.startswith("["):
        if not host.endswith("]"):
            return None
        try:
            return ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            return None
    readings = _ascii_readings(host)
    if not readings:
        return None
    parsed = [_parse_ascii(reading) for reading in readings]
    if any(p is None for p in parsed):
        return None
    addresses = [p for p in parsed if not isinstance(p, str)]
    if addresses:
        # Two readings of a non-ASCII host: an address in either is the one that counts.
        return addresses[0] if all(a == addresses[0] for a in addresses) else None
    return parsed[0]


def _ascii_readings(host: str) -> list[str]:
    """The ASCII forms the CLI's domain-to-ASCII step could give (UTS #46 mapping). Python's
    IDNA 2003 codec and plain NFKC case folding are both tried: where they differ on digits or
    dots the gate sees both, and refuses unless they agree."""
    if host.isascii():
        return [host.lower()]
    readings: list[str] = []
    try:
        readings.append(host.encode("idna").decode("ascii").lower())
    except UnicodeError:
        return []
    folded = unicodedata.normalize("NFKC", host).casefold()
    for dot in ("\u3002", "\uff0e", "\uff61"):
        folded = folded.replace(dot, ".")
    if folded.isascii() and folded not in readings:
        readings.append(folded)
    return readings


def _parse_ascii(host: str) -> IPAddress | str | None:
    if not host or any(ch not in HOST_CHARACTERS for ch in host):
        return None
    if _ends_in_a_number(host):
        return _parse_ipv4(host)
    labels = host[:-1].split(".") if host.endswith(".") else host.split(".")
    if any(not label for label in labels):
        return None  # an empty label: not a name DNS can answer for
    return host


def _ends_in_a_number(host: str) -> bool:
    parts = host.split(".")
    if parts[-1] == "":
        if len(parts) == 1:
            return False
        parts.pop()
    last = parts[-1]
    if last and all(ch in string.digits for ch in last):
        return True
    return _ipv4_number(last) is not None


def _ipv4_number(part: str) -> int | None:
    """The WHATWG IPv4 number parser: decimal, `0x` hex or leading-zero octal; None: failure."""
    if part == "":
        return None
    radix, digits = 10, string.digits
    if len(part) >= 2 and part[:2] in ("0x", "0X"):
        part, radix, digits = part[2:], 16, string.hexdigits
    elif len(part) >= 2 and part[0] == "0":
        part, radix, digits = part[1:], 8, string.octdigits
    if part == "":
        return 0
    if any(ch not in digits for ch in part):
        return None
    return int(part, radix)


def _parse_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """The WHATWG IPv4 parser (1 to 4 parts, the last filling the remaining bytes)."""
    parts = host.split(".")
    if parts[-1] == "" and len(parts) > 1:
        parts.pop()
    if len(parts) > 4:
        return None
    numbers = [_ipv4_number(part) for part in parts]
    if any(n is None for n in numbers):
        return None
    values = [n for n in numbers if n is not None]
    if any(n > 255 for n in values[:-1]) or values[-1] >= 256 ** (5 - len(values)):
        return None
    address = values[-1]
    for i, n in enumerate(values[:-1]):
        address += n * 256 ** (3 - i)
    return ipaddress.IPv4Address(address)
