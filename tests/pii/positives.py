"""The positives of the labelled set (labelled.py), one generator per type, seeded.

Each carries its type and the exact character span of the value inside a short text;
validity is computed here, independently of memx.pii: card check digits by our own Luhn,
IBAN check digits by our own mod-97 over BBANs of each country's published structure,
phone numbers from libphonenumber's example numbers of many regions (the metadata is the
definition of a valid number), keys in each provider's documented shape. Nothing here
calls the detector.
"""

from __future__ import annotations

import base64
import ipaddress
import random
import string
from dataclasses import dataclass

import phonenumbers
from phonenumbers import PhoneNumberFormat, PhoneNumberType


@dataclass(frozen=True)
class Labelled:
    text: str
    type: str | None  # None: a near miss, nothing to find
    start: int = 0
    end: int = 0
    region: str = "US"  # the phone region the text is read with
    kind: str = ""

    @property
    def value(self) -> str:
        return self.text[self.start:self.end]


def _place(template: str, value: str, type_: str | None, region: str = "US", kind: str = "") -> Labelled:
    start = template.index("{}")
    text = template.replace("{}", value, 1)
    return Labelled(text, type_, start, start + len(value), region, kind) if type_ else Labelled(text, None, region=region, kind=kind)


def _alnum(rng: random.Random, n: int, alphabet: str = string.ascii_letters + string.digits) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def luhn_digit(body: str) -> str:
    total = 0
    for i, c in enumerate(reversed(body)):
        d = int(c) * (2 if i % 2 == 0 else 1)
        total += d - 9 if d > 9 else d
    return str((10 - total % 10) % 10)


def iban_check(country: str, bban: str) -> str:
    numeric = "".join(str(int(c, 36)) for c in bban + country + "00")
    return f"{98 - int(numeric) % 97:02d}"


# ---- positives ------------------------------------------------------------------------

PHONE_REGIONS = ("US", "CA", "GB", "DE", "FR", "IT", "ES", "NL", "CH", "AU", "JP", "IN", "BR", "MX", "SE", "NO",
                 "DK", "PL", "BE", "AT", "IE", "NZ", "ZA", "SG", "KR", "AR", "PT", "FI", "IL", "CN")
PHONE_TEMPLATES = ("Call {} today.", "Tel: {}\n", "ring me on {} after 6pm", "Phone {} (office)", "contact: {}, thanks")


def _phones(rng: random.Random) -> list[Labelled]:
    out = []
    for region in PHONE_REGIONS:
        for kind in (PhoneNumberType.FIXED_LINE, PhoneNumberType.MOBILE):
            example = phonenumbers.example_number_for_type(region, kind)
            if example is None:
                continue
            number = example
            for _ in range(20):  # vary the last digits, keeping only numbers the metadata calls valid
                national = str(example.national_number)
                candidate = phonenumbers.parse(f"+{example.country_code}{national[:-2]}{rng.randrange(100):02d}")
                if phonenumbers.is_valid_number(candidate):
                    number = candidate
                    break
            template = rng.choice(PHONE_TEMPLATES)
            out.append(_place(template, phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL), "phone",
                              kind=f"{region} international"))
            out.append(_place(rng.choice(PHONE_TEMPLATES), phonenumbers.format_number(number, PhoneNumberFormat.E164),
                              "phone", kind=f"{region} e164"))
            # without a country code: read in the number's own region
            out.append(_place(rng.choice(PHONE_TEMPLATES), phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL),
                              "phone", region=region, kind=f"{region} national"))
    return out


CARD_ISSUERS = (("visa", ("4",), 16), ("visa13", ("4",), 13), ("mastercard", ("51", "53", "55", "2221", "2720"), 16),
                ("amex", ("34", "37"), 15), ("discover", ("6011", "65", "644"), 16), ("jcb", ("3528", "3589"), 16),
                ("diners", ("36", "300"), 14), ("unionpay", ("62",), 16))


def _card_number(rng: random.Random, prefix: str, length: int) -> str:
    body = prefix + "".join(rng.choice(string.digits) for _ in range(length - len(prefix) - 1))
    return body + luhn_digit(body)


def _card_format(rng: random.Random, digits: str) -> str:
    sep = rng.choice(("", " ", "-"))
    if not sep:
        return digits
    if len(digits) == 15:
        return sep.join((digits[:4], digits[4:10], digits[10:]))
    if len(digits) == 14:
        return sep.join((digits[:4], digits[4:10], digits[10:]))
    if len(digits) == 16:
        return sep.join(digits[i:i + 4] for i in range(0, 16, 4))
    return digits


CARD_TEMPLATES = ("card {} exp 04/27", "Card number: {}.", "paid with {} yesterday", "cc={}\n", "charged to {}, ok")


def _cards(rng: random.Random) -> list[Labelled]:
    out = []
    for i in range(80):
        name, prefixes, length = CARD_ISSUERS[i % len(CARD_ISSUERS)]
        digits = _card_number(rng, rng.choice(prefixes), length)
        out.append(_place(rng.choice(CARD_TEMPLATES), _card_format(rng, digits), "credit_card", kind=name))
    return out


# BBAN structures as the IBAN registry publishes them: n digits, a upper letters, c alphanumerics
IBAN_BBAN = {"DE": "18n", "GB": "4a14n", "FR": "10n11c2n", "NL": "4a10n", "ES": "20n", "IT": "1a10n12c",
             "CH": "5n12c", "BE": "12n", "AT": "16n", "PL": "24n", "SE": "20n", "IE": "4a14n"}


def _bban(rng: random.Random, structure: str) -> str:
    import re

    out = []
    for count, kind in re.findall(r"(\d+)([nac])", structure):
        alphabet = {"n": string.digits, "a": string.ascii_uppercase, "c": string.ascii_uppercase + string.digits}[kind]
        out.append("".join(rng.choice(alphabet) for _ in range(int(count))))
    return "".join(out)


def make_iban(rng: random.Random, country: str, wrong: bool = False) -> str:
    bban = _bban(rng, IBAN_BBAN[country])
    check = iban_check(country, bban)
    if wrong:
        check = f"{(int(check) + rng.randrange(1, 97)) % 97 + 2:02d}"
        if check == iban_check(country, bban):
            check = f"{(int(check) + 1 - 2) % 97 + 2:02d}"
    return country + check + bban


def _grouped(value: str) -> str:
    return " ".join(value[i:i + 4] for i in range(0, len(value), 4))


IBAN_TEMPLATES = ("IBAN: {}\n", "transfer to {} by Friday", "Account {} (EUR)", "iban={}, bic=DEUTDEFF")


def _ibans(rng: random.Random) -> list[Labelled]:
    out = []
    for i in range(72):
        country = list(IBAN_BBAN)[i % len(IBAN_BBAN)]
        value = make_iban(rng, country)
        out.append(_place(rng.choice(IBAN_TEMPLATES), _grouped(value) if i % 2 else value, "iban", kind=country))
    return out


def _ips(rng: random.Random) -> list[Labelled]:
    out = []
    # a bare ":port" after an IPv6 address is ambiguous (RFC 3986 brackets it), so only IPv4 gets one
    templates = ("from {} port 22", "host={}\n", "client {} denied", "connect to {}:8080 now", "[{}]:443 is up")
    for i in range(40):
        value = ".".join(str(rng.randrange(1, 255)) for _ in range(4))
        out.append(_place(rng.choice(templates[:4]), value, "ip_address", kind="ipv4"))
    for i in range(40):
        groups = [rng.randrange(0, 65536) if rng.random() < 0.7 else 0 for _ in range(8)]
        groups[0] = rng.choice((0x2001, 0xfe80, 0x2a00, 0x2606))
        address = ipaddress.IPv6Address(":".join(f"{g:x}" for g in groups))
        value = address.compressed if i % 2 else address.exploded
        out.append(_place(rng.choice(templates[:3] + templates[4:]), value, "ip_address", kind="ipv6"))
    return out


def api_key(rng: random.Random, provider: str) -> str:
    base32 = string.ascii_uppercase + "234567"
    return {
        "aws": lambda: rng.choice(("AKIA", "ASIA")) + _alnum(rng, 16, base32),
        "github": lambda: rng.choice(("ghp_", "gho_", "ghs_")) + _alnum(rng, 36),
        "github_pat": lambda: "github_pat_" + _alnum(rng, 22) + "_" + _alnum(rng, 59),
        "slack_bot": lambda: f"xoxb-{_alnum(rng, 12, string.digits)}-{_alnum(rng, 13, string.digits)}-{_alnum(rng, 24)}",
        "slack_user": lambda: (f"xoxp-{_alnum(rng, 12, string.digits)}-{_alnum(rng, 12, string.digits)}-"
                               f"{_alnum(rng, 13, string.digits)}-{_alnum(rng, 32, '0123456789abcdef')}"),
        "stripe": lambda: rng.choice(("sk_live_", "pk_live_", "rk_live_", "sk_test_")) + _alnum(rng, rng.choice((24, 99))),
        "google": lambda: "AIza" + _alnum(rng, 35, string.ascii_letters + string.digits + "_-"),
        "openai": lambda: "sk-" + _alnum(rng, 20) + "T3BlbkFJ" + _alnum(rng, 20),
        "openai48": lambda: "sk-" + _alnum(rng, 48),
        "openai_proj": lambda: "sk-proj-" + _alnum(rng, 120, string.ascii_letters + string.digits + "_-"),
    }[provider]()


KEY_PROVIDERS = ("aws", "github", "github_pat", "slack_bot", "slack_user", "stripe", "google", "openai", "openai48",
                 "openai_proj")
KEY_TEMPLATES = ('API_KEY = "{}"\n', "export TOKEN={}\n", "Authorization: Bearer {}", "key: '{}' # prod", "token {} leaked")


def _api_keys(rng: random.Random) -> list[Labelled]:
    return [_place(rng.choice(KEY_TEMPLATES), api_key(rng, KEY_PROVIDERS[i % len(KEY_PROVIDERS)]), "api_key",
                   kind=KEY_PROVIDERS[i % len(KEY_PROVIDERS)]) for i in range(80)]


def pem_block(rng: random.Random, kind: str = "RSA ", lines: int = 8, newline: str = "\n", end: bool = True) -> str:
    body = base64.b64encode(bytes(rng.randrange(256) for _ in range(48 * lines))).decode()
    rows = [body[i:i + 64] for i in range(0, len(body), 64)]
    block = [f"-----BEGIN {kind}PRIVATE KEY-----", *rows] + ([f"-----END {kind}PRIVATE KEY-----"] if end else [])
    return newline.join(block)


def _private_keys(rng: random.Random) -> list[Labelled]:
    out = []
    for i in range(60):
        kind = ("RSA ", "", "EC ", "OPENSSH ", "ENCRYPTED ", "DSA ")[i % 6]
        if i % 5 == 4:  # inside a JSON string, lines as literal \n
            out.append(_place('{"private_key": "{}\\n", "type": "service_account"}',
                              pem_block(rng, kind, rng.randrange(3, 12), newline="\\n"), "private_key", kind="json"))
        elif i % 5 == 3:  # a sample cut inside the body
            out.append(_place("key = '''\n{}", pem_block(rng, kind, rng.randrange(3, 8), end=False), "private_key", kind="cut"))
        else:
            out.append(_place("# deploy key\n{}\n# end", pem_block(rng, kind, rng.randrange(3, 12)), "private_key", kind=kind.strip() or "PKCS8"))
    return out


def _emails(rng: random.Random) -> list[Labelled]:
    firsts, lasts = ("jane", "bob", "li", "maria", "o.connor", "anne-marie"), ("doe", "smith", "wang", "garcia", "x99")
    domains = ("example.com", "mail.example.co.uk", "eng.corp.example.org", "uni-bonn.de", "dept.cs.example.edu",
               "example.io", "sub.domain.example.net")
    templates = ("Contact {} for details.", "Email: <{}>", "({})", "mailto:{}", "reach me at {}.", '"email": "{}",')
    out = []
    for i in range(70):
        first, last = rng.choice(firsts), rng.choice(lasts)
        local = rng.choice((f"{first}.{last}", f"{first}_{last}{rng.randrange(100)}", f"{first[0]}{last}",
                            f"{first}+{rng.choice(('news', 'git', 'x'))}", f"{first}-{last}".upper()))
        out.append(_place(rng.choice(templates), f"{local}@{rng.choice(domains)}", "email", kind="email"))
    return out
