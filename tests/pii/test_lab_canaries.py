"""The lab's contact canaries are personal data the detector finds: every planted e-mail and
phone number, whichever seed drew them (a phone canary with an area code not in service
would be a contact the counts could never see)."""

from __future__ import annotations

from memx.lab.canaries import make_canaries
from memx.pii import detect


def test_every_contact_canary_is_detected_whole():
    contacts = [c for seed in range(6) for c in make_canaries(seed, 5) if c.category == "contact"]
    phones = [c.secret for c in contacts if c.prefix.endswith("phone:")]
    emails = [c.secret for c in contacts if "@" in c.secret]
    assert len(phones) >= 5 and len(emails) >= 5
    for secret, kind in [(p, "phone") for p in phones] + [(e, "email") for e in emails]:
        found = detect(f"call {secret} today")
        assert [(e.type, e.value) for e in found] == [(kind, secret)], secret
