"""Detectors of credentials: provider API keys by their documented prefix and length,
and PEM private key blocks.

An API key counts only in a documented shape (the provider's prefix, alphabet and
length), so a random hex string, a UUID or a hash is not a key here (the paper's
`high_entropy` category in `memx.verify.categories` covers those). Detect-secrets knows
the same providers, but its plugins work line by line without character offsets and
several carry no length bound, so the shapes are listed here, each with its source.

A private key is a `-----BEGIN ... PRIVATE KEY-----` header followed by a base64 body of
at least `_MIN_BODY` characters, up to its END line, or, when the text is cut inside the
body (a sample stops after 256 tokens), to the end of the body.

It knows nothing about masking, spans or where the text came from.
"""

from __future__ import annotations

import re

from memx.pii.registry import register

# (provider, pattern) of documented key shapes; the boundaries are added below
KEY_SHAPES = (
    # AWS access key id: a 4-letter kind (AKIA long-term, ASIA temporary, ...) + 16 base32
    ("aws", r"(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|ANPA|ANVA|AROA|APKA|ASCA)[A-Z2-7]{16}"),
    # GitHub tokens: ghp_/gho_/ghu_/ghs_/ghr_ + 36; fine-grained github_pat_ + 22 _ 59
    ("github", r"gh[pousr]_[A-Za-z0-9]{36}|github_pat_[A-Za-z0-9]{22}_[A-Za-z0-9]{59}"),
    # Slack: bot (and app/refresh) tokens: two numeric ids + 24 alphanumerics; user tokens xoxp-:
    # three numeric ids + 32 hex
    ("slack", r"xox[abers]-\d{8,13}-\d{8,13}-[A-Za-z0-9]{24}|xoxp-\d{8,13}-\d{8,13}-\d{8,13}-[a-f0-9]{32}"),
    # Stripe: secret / publishable / restricted, live or test, 24 or more characters
    ("stripe", r"(?:sk|pk|rk)_(?:live|test)_[A-Za-z0-9]{24,99}"),
    # Google API key: AIza + 35
    ("google", r"AIza[0-9A-Za-z_-]{35}"),
    # OpenAI-style: legacy sk- + 48 (T3BlbkFJ inside), project/service keys sk-proj-/sk-svcacct-,
    # Anthropic sk-ant-api03-
    ("openai", r"sk-[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20}|sk-[A-Za-z0-9]{48}"
               r"|sk-(?:proj|svcacct|admin)-[A-Za-z0-9_-]{40,200}|sk-ant-(?:api|admin)\d\d-[A-Za-z0-9_-]{80,100}"),
    # GitLab personal access token, npm, Hugging Face, SendGrid
    ("gitlab", r"glpat-[A-Za-z0-9_-]{20}"),
    ("npm", r"npm_[A-Za-z0-9]{36}"),
    ("huggingface", r"hf_[A-Za-z]{34}"),
    ("sendgrid", r"SG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}"),
)
_KEY = re.compile(r"(?<![A-Za-z0-9_-])(?:" + "|".join(f"(?:{p})" for _, p in KEY_SHAPES) + r")(?![A-Za-z0-9_-])")
# every shape starts with one of these stems (the Stripe ones two characters after the key's
# start): the full pattern is tried only where one occurs, far cheaper than scanning all
# text with it (tests/bench/bench_pii.py)
_STEMS = re.compile(r"A[KSBCGINRP][A-Z]A|AIza|gh[pousr]_|github_pat_|xox|_live_|_test_|sk-|glpat-|npm_|hf_|SG\.")


@register("api_key")
def find_api_keys(text: str, phone_region: str):
    tried = -1
    for stem in _STEMS.finditer(text):
        start = stem.start() - 2 if stem.group() in ("_live_", "_test_") else stem.start()
        if start <= tried or start < 0:
            continue
        m = _KEY.match(text, start)
        if m:
            tried = m.end()
            yield m.start(), m.end()


_MIN_BODY = 40
_PEM_BEGIN = re.compile(r"-----BEGIN ((?:[A-Z0-9]+ )*)PRIVATE KEY-----")
# lines are broken by newlines, or by a literal backslash-n inside JSON strings
_NL = r"(?:\r?\n|\\n)"
# optional RFC 1421 headers (Proc-Type, DEK-Info) then the base64 lines
_PEM_BODY = re.compile(rf"(?:{_NL}[A-Za-z-]+: [^\n\\]*)*{_NL}*([A-Za-z0-9+/=]+(?:{_NL}[A-Za-z0-9+/=]+)*)")


@register("private_key")
def find_private_keys(text: str, phone_region: str):
    if "PRIVATE KEY-----" not in text:
        return
    for m in _PEM_BEGIN.finditer(text):
        body = _PEM_BODY.match(text, m.end())
        if not body or len(re.sub(r"\\n|\s", "", body.group(1))) < _MIN_BODY:
            continue
        end_line = re.compile(rf"\s*(?:{_NL})?-----END {m.group(1)}PRIVATE KEY-----")
        closed = end_line.match(text, body.end())
        # without its END line (the text was cut inside the body) the block ends with the body
        yield m.start(), closed.end() if closed else body.end()
