"""URL host forms and whether WebFetch may fetch each: (host, how a URL parser reads it, allowed)."""

from __future__ import annotations

ALLOW, REFUSE = True, False


# (host as written in the URL, what the CLI reads it as (None: no URL), verdict)
FORMS: list[tuple[str, str | None, bool]] = [
    # Public addresses and names.
    ("8.8.8.8", "8.8.8.8", ALLOW),
    ("1.1.1.1", "1.1.1.1", ALLOW),
    ("example.com", "example.com", ALLOW),
    ("example.com.", "example.com.", ALLOW),
    ("[2606:4700::1111]", "2606:4700::1111", ALLOW),
    ("[2001:4860:4860::8888]", "2001:4860:4860::8888", ALLOW),
    # Numeric spellings of a public address: the same address, allowed.
    ("134744072", "8.8.8.8", ALLOW),
    ("0x8.0x8.0x8.0x8", "8.8.8.8", ALLOW),
    ("010.010.010.010", "8.8.8.8", ALLOW),
    ("8.8.2056", "8.8.8.8", ALLOW),
    # IPv6 forms embedding a public IPv4 address are judged by it.
    ("[::ffff:8.8.8.8]", "::ffff:808:808", ALLOW),
    ("[64:ff9b::808:808]", "64:ff9b::808:808", ALLOW),
    ("[2002:808:808::]", "2002:808:808::", ALLOW),
    ("[2001:0:4136:e378:8000:63bf:f7f7:f7f7]", "2001:0:4136:e378:8000:63bf:f7f7:f7f7", ALLOW),  # Teredo, client 8.8.8.8
    # IPv4 special-purpose ranges.
    ("127.0.0.1", "127.0.0.1", REFUSE),  # loopback
    ("127.255.255.254", "127.255.255.254", REFUSE),
    ("10.0.0.5", "10.0.0.5", REFUSE),  # private
    ("172.16.3.4", "172.16.3.4", REFUSE),
    ("172.31.255.255", "172.31.255.255", REFUSE),
    ("192.168.1.1", "192.168.1.1", REFUSE),
    ("169.254.169.254", "169.254.169.254", REFUSE),  # link-local, cloud metadata
    ("100.64.0.1", "100.64.0.1", REFUSE),  # shared (carrier-grade NAT)
    ("100.127.255.254", "100.127.255.254", REFUSE),
    ("0.0.0.0", "0.0.0.0", REFUSE),  # unspecified
    ("0.1.2.3", "0.1.2.3", REFUSE),  # 0/8
    ("224.0.0.1", "224.0.0.1", REFUSE),  # multicast
    ("239.255.255.250", "239.255.255.250", REFUSE),
    ("240.0.0.1", "240.0.0.1", REFUSE),  # 240/4
    ("255.255.255.255", "255.255.255.255", REFUSE),  # broadcast
    ("192.0.2.1", "192.0.2.1", REFUSE),  # documentation
    ("198.51.100.1", "198.51.100.1", REFUSE),
    ("203.0.113.1", "203.0.113.1", REFUSE),
    ("198.18.0.1", "198.18.0.1", REFUSE),  # benchmarking 198.18/15
    ("198.19.255.254", "198.19.255.254", REFUSE),
    ("192.0.0.8", "192.0.0.8", REFUSE),  # IETF protocol assignments
    ("192.88.99.1", "192.88.99.1", REFUSE),  # deprecated 6to4 relay
    # Numeric host forms, normalised as the WHATWG URL parser does.
    ("2130706433", "127.0.0.1", REFUSE),  # decimal
    ("0177.0.0.1", "127.0.0.1", REFUSE),  # octal
    ("0x7f.1", "127.0.0.1", REFUSE),  # hex, short
    ("0X7F.0.0.1", "127.0.0.1", REFUSE),
    ("0x7f000001", "127.0.0.1", REFUSE),
    ("017700000001", "127.0.0.1", REFUSE),
    ("127.1", "127.0.0.1", REFUSE),  # short dotted
    ("127.0.1", "127.0.0.1", REFUSE),
    ("127.0.0.1.", "127.0.0.1", REFUSE),  # trailing dot
    ("0x7f.0.0x0.1", "127.0.0.1", REFUSE),  # mixed
    ("0177.0x0.1", "127.0.0.1", REFUSE),
    ("00000000000000000000177.1", "127.0.0.1", REFUSE),
    ("127.0.0.0x1", "127.0.0.1", REFUSE),
    ("0x", "0.0.0.0", REFUSE),
    ("0", "0.0.0.0", REFUSE),
    ("167772161", "10.0.0.1", REFUSE),
    ("3232235777", "192.168.1.1", REFUSE),
    ("0xa9.0xfe.0xa9.0xfe", "169.254.169.254", REFUSE),
    ("0xffffffff", "255.255.255.255", REFUSE),
    ("1.2.3.0x", "1.2.3.0", ALLOW),  # an empty hex number is 0: a public address
    ("①②⑦.0.0.1", "127.0.0.1", REFUSE),  # domain-to-ASCII maps these digits first
    ("０x7f.1", "127.0.0.1", REFUSE),
    ("127。0。0。1", "127.0.0.1", REFUSE),
    # Hosts the CLI's URL parser refuses: nothing to fetch, and the gate says no too.
    ("1.2.3.09", None, REFUSE),
    ("4294967296", None, REFUSE),
    ("256.1", None, REFUSE),
    ("1.2.3.4.5", None, REFUSE),
    ("1..2", None, REFUSE),
    ("a.09", None, REFUSE),
    ("[::ffff:1.2.3.04]", None, REFUSE),
    # IPv6 forms embedding a non-public IPv4 address.
    ("[::ffff:127.0.0.1]", "::ffff:7f00:1", REFUSE),  # mapped ::ffff:0:0/96
    ("[::ffff:7f00:1]", "::ffff:7f00:1", REFUSE),
    ("[::ffff:169.254.169.254]", "::ffff:a9fe:a9fe", REFUSE),
    ("[::ffff:100.64.0.1]", "::ffff:6440:1", REFUSE),
    ("[::ffff:0:7f00:1]", "::ffff:0:7f00:1", REFUSE),  # translated ::ffff:0:0:0/96
    ("[::ffff:0:127.0.0.1]", "::ffff:0:7f00:1", REFUSE),
    ("[::7f00:1]", "::7f00:1", REFUSE),  # compatible ::/96
    ("[::127.0.0.1]", "::7f00:1", REFUSE),
    ("[::10.0.0.1]", "::a00:1", REFUSE),
    ("[64:ff9b::7f00:1]", "64:ff9b::7f00:1", REFUSE),  # NAT64 64:ff9b::/96
    ("[64:ff9b::10.0.0.1]", "64:ff9b::a00:1", REFUSE),
    ("[64:ff9b:1::7f00:1]", "64:ff9b:1::7f00:1", REFUSE),  # NAT64 local-use 64:ff9b:1::/48
    ("[64:ff9b:1::127.0.0.1]", "64:ff9b:1::7f00:1", REFUSE),
    ("[64:ff9b:1::808:808]", "64:ff9b:1::808:808", REFUSE),  # local-use: any layout, not global
    ("[64:ff9b:1:7f00:0:100::]", "64:ff9b:1:7f00:0:100::", REFUSE),  # 127.0.0.1 in the RFC 6052 /48 layout
    ("[2002:7f00:1::]", "2002:7f00:1::", REFUSE),  # 6to4 2002::/16
    ("[2002:c0a8:101::1]", "2002:c0a8:101::1", REFUSE),
    ("[2001:0:4136:e378:8000:63bf:80ff:fffe]", "2001:0:4136:e378:8000:63bf:80ff:fffe", REFUSE),  # Teredo, 127.0.0.1
    ("[2001:0:7f00:1:8000:63bf:f7f7:f7f7]", "2001:0:7f00:1:8000:63bf:f7f7:f7f7", REFUSE),  # Teredo server 127.0.0.1
    # IPv6 special-purpose ranges.
    ("[::1]", "::1", REFUSE),  # loopback
    ("[::]", "::", REFUSE),  # unspecified
    ("[fec0::1]", "fec0::1", REFUSE),  # site-local fec0::/10
    ("[fc00::1]", "fc00::1", REFUSE),  # unique-local fc00::/7
    ("[fd12:3456::1]", "fd12:3456::1", REFUSE),
    ("[fe80::1]", "fe80::1", REFUSE),  # link-local
    ("[ff02::1]", "ff02::1", REFUSE),  # multicast
    ("[ff0e::1]", "ff0e::1", REFUSE),
    ("[2001:db8::1]", "2001:db8::1", REFUSE),  # documentation
    ("[3fff::1]", "3fff::1", REFUSE),
    ("[3fff:fff:ffff::1]", "3fff:fff:ffff::1", REFUSE),
    ("[2001:2::1]", "2001:2::1", REFUSE),  # benchmarking 2001:2::/48
    ("[100::1]", "100::1", REFUSE),  # discard-only
    ("[5f00::1]", "5f00::1", REFUSE),  # outside global unicast
    ("[v1.x]", None, REFUSE),
]
