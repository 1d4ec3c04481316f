"""Detectors of addresses on the network: e-mail addresses and IP addresses.

- email: a local part and a domain of at least two labels whose top-level label is 2-24
  letters, within RFC 5321's lengths (64 for the local part, 254 in all), no label
  starting or ending with a hyphen, no empty label; an image-scale name such as
  `icon@2x.png` is not an address.
- ip_address: IPv4 dotted quads and IPv6 (compressed forms too) that the standard
  library's `ipaddress` parses. A dotted quad that is part of a longer dotted run
  (10.0.19041.1) or follows a version word (`version 1.2.3.4`, `v1.2.3.4`,
  `pkg==1.2.3.4`) is a version, not an address; an IPv6 candidate needs three groups or
  one of at least three digits, so `a::b` in C++ or `1::2` in a slice is not one.

It knows nothing about masking, spans or where the text came from.
"""

from __future__ import annotations

import ipaddress
import re

from memx.pii.registry import register

_EMAIL = re.compile(
    r"(?<![\w.%+-])([A-Za-z0-9](?:[A-Za-z0-9._%+-]*[A-Za-z0-9_%+-])?)"
    r"@((?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+([A-Za-z]{2,24}))(?![\w-]|\.[A-Za-z0-9])"
)
_SCALE = re.compile(r"\d+(?:\.\d+)?x\.", re.I)  # icon@2x.png, sprite@1.5x.webp


_LOCAL_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._%+-")


@register("email")
def find_emails(text: str, phone_region: str):
    # matched from each "@" back to where its local part can start, never by scanning all
    # text: a long run of word characters would cost the pattern quadratic time
    at = text.find("@")
    while at >= 0:
        lo = at
        while lo > 0 and text[lo - 1] in _LOCAL_CHARS and at - lo <= 64:
            lo -= 1
        while lo < at and not text[lo].isalnum():  # a local part starts with a letter or digit
            lo += 1
        m = _EMAIL.match(text, lo) if lo < at else None
        if m:
            local, domain = m.group(1), m.group(2)
            if not (len(local) > 64 or len(m.group()) > 254 or ".." in local or _SCALE.match(domain)):
                yield m.start(), m.end()
        at = text.find("@", at + 1)


# starts with a digit, the boundary checked after it, so the engine skips ahead to digits
_IPV4 = re.compile(r"\d(?<![\w.]\d)\d{0,2}\.(?:\d{1,3}\.){2}\d{1,3}(?![\w]|\.\d)")
_VERSION_WORD = re.compile(
    r"(?:\bv|version|\bver\.?|release|build|rev(?:ision)?|update|patch|firmware|kernel|python|node"
    r"|chrome|firefox|windows|section|§|==|>=|<=|~=|@)\s*:?\s*$", re.I)
# an IPv6 candidate grows from a colon pair (a literal first character: cheap to find) over
# the characters an address is written with
_IPV6_SEED = re.compile(r":[0-9A-Fa-f]{0,4}:")
_IPV6_CHARS = frozenset("0123456789abcdefABCDEF:.")


def _ipv6_candidates(text: str):
    reached = 0
    for m in _IPV6_SEED.finditer(text):
        if m.start() < reached:
            continue
        lo, hi = m.start(), m.end()
        while lo > 0 and text[lo - 1] in _IPV6_CHARS:
            lo -= 1
        while hi < len(text) and text[hi] in _IPV6_CHARS:
            hi += 1
        reached = hi
        value = text[lo:hi].rstrip(".")  # a full stop after the address
        if value.startswith(":") and not value.startswith("::"):  # "host:2001:db8::1"
            lo, value = lo + 1, value[1:]
        glued = (lo > 0 and (text[lo - 1].isalnum() or text[lo - 1] == "_")) or \
            (lo + len(value) < len(text) and (text[lo + len(value)].isalnum() or text[lo + len(value)] == "_"))
        if not glued:
            yield lo, lo + len(value), value


def _ipv6_ok(value: str) -> bool:
    groups = [g for g in re.split(r"[:.]", value) if g]
    if len(groups) < 3 and max((len(g) for g in groups), default=0) < 3:
        return False
    try:
        ipaddress.IPv6Address(value)
    except ValueError:
        return False
    return True


@register("ip_address")
def find_ips(text: str, phone_region: str):
    for m in _IPV4.finditer(text):
        try:
            ipaddress.IPv4Address(m.group())
        except ValueError:
            continue
        if not _VERSION_WORD.search(text[max(0, m.start() - 12):m.start()]):
            yield m.start(), m.end()
    if "::" not in text and text.count(":") < 7:
        return
    for start, end, value in _ipv6_candidates(text):
        if _ipv6_ok(value):
            yield start, end
