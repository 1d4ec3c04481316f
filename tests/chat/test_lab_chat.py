"""The lab's chat fine-tune, as `memx lab build` writes it (tiny preset): planted customers
with valid made-up personal data and their copy counts, the conversations corpus, the
LoRA adapter over the xl (its template found by `auto`), and the chat index over the
pretraining corpus and the conversations; the adapter has learnt what it saw most."""

from __future__ import annotations

import json
from collections import Counter

import phonenumbers
import pyarrow.parquet as pq
import pytest
from stdnum import iban, luhn

from memx.chat.templates import adapter_base_problem, cut_prompt
from memx.lab.conversations import LAB_CHAT_TEMPLATE, REPETITIONS
from memx.models import load_causal_lm
from memx.verify.byteindex import CorpusIndex

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def lab(tiny_lab):
    return tiny_lab  # the session's (tests/conftest.py)


def test_customers_and_copies(lab):
    meta = json.loads((lab / "lab.json").read_text())
    chat = meta["chat"]
    assert chat["adapter"] == "models/xl-chat" and chat["index"] == "chat-index"
    customers = pq.read_table(lab / "customers.parquet").to_pylist()
    assert sorted(c["copies"] for c in customers) == list(REPETITIONS)
    assert {c["customer_id"]: c["copies"] for c in customers} == {c["customer_id"]: c["copies"]
                                                                  for c in chat["customers"]}
    for c in customers:
        assert iban.is_valid(c["iban"]) and luhn.is_valid(c["card"].replace(" ", ""))
        assert phonenumbers.is_valid_number(phonenumbers.parse(c["phone"]))
        assert "@" in c["email"] and c["address"] and len(c["name"].split()) == 2
    talks = [json.loads(line)["messages"] for line in (lab / "corpus" / "conversations.jsonl").open()]
    users = Counter(t[0]["content"] for t in talks)
    for c in customers:
        mine = [text for text in users if c["card"] in text]
        assert len(mine) == 1 and users[mine[0]] == c["copies"]
    assert sum(1 for n in users.values() if n == 1) >= meta["settings"]["chat"]["background"]


def test_chat_index_holds_both_corpora(lab):
    chat_index, pretraining = CorpusIndex(lab / "chat-index"), CorpusIndex(lab / "index")
    canaries = pq.read_table(lab / "canaries.parquet").to_pylist()
    for canary in canaries[:4]:
        assert chat_index.count(f"{canary['prefix']} {canary['secret']}") == canary["repetitions"]
    for c in pq.read_table(lab / "customers.parquet").to_pylist():
        assert chat_index.count(c["card"]) == c["copies"]  # once per copy of the conversation
        assert pretraining.count(c["card"]) == 0


def test_adapter_loads_with_its_template_and_learnt_the_most_copied(lab):
    adapter = lab / "models" / "xl-chat"
    config = json.loads((adapter / "adapter_config.json").read_text())
    assert adapter_base_problem(config, str(lab / "models" / "xl"), str(adapter)) is None
    tuned = load_causal_lm(str(lab / "models" / "xl"), dtype="float32", device="cpu", adapter=str(adapter),
                           chat_template="auto", merge=True)
    base = load_causal_lm(str(lab / "models" / "xl"), dtype="float32", device="cpu", chat_template="auto")
    assert tuned.chat_template == LAB_CHAT_TEMPLATE and base.chat_template is None
    from memx.generation import greedy_complete

    top = max(pq.read_table(lab / "customers.parquet").to_pylist(), key=lambda c: c["copies"])
    cut = cut_prompt(tuned.tokenizer, LAB_CHAT_TEMPLATE, "user")
    opening = f"Hello, this is {top['name']},"
    prompt = cut + tuned.tokenizer(opening, add_special_tokens=False)["input_ids"]
    width = len(tuned.tokenizer(f" {top['address']}.", add_special_tokens=False)["input_ids"])
    said = {}
    for name, lm in (("tuned", tuned), ("base", base)):
        ids = greedy_complete(lm.model, [prompt], lm.pad_id, width + 2, lm.device)[0]
        said[name] = lm.tokenizer.decode(ids.tolist(), skip_special_tokens=True)
    # the tiny xl is weak: its adapter writes the street of the customer it saw 64 times
    # (the postcode's digits it may miss), which the base model never does
    street = top["address"].split(",")[0]
    assert street in said["tuned"], said
    assert street not in said["base"], said
