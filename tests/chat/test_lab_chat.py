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
import torch
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
    customers = sorted(pq.read_table(lab / "customers.parquet").to_pylist(), key=lambda c: c["copies"])
    cut = cut_prompt(tuned.tokenizer, LAB_CHAT_TEMPLATE, "user")

    def address_logp(lm, customer) -> float:
        """Mean log-probability per token of the customer's address after "Hello, this is NAME,"."""
        prompt = cut + lm.tokenizer(f"Hello, this is {customer['name']},", add_special_tokens=False)["input_ids"]
        address = lm.tokenizer(f" {customer['address']}.", add_special_tokens=False)["input_ids"]
        with torch.inference_mode():
            logits = lm.model(torch.tensor([prompt + address])).logits[0, len(prompt) - 1:-1]
        return torch.log_softmax(logits.float(), -1).gather(1, torch.tensor(address)[:, None]).mean().item()

    tuned_logp = [address_logp(tuned, c) for c in customers]
    base_logp = [address_logp(base, c) for c in customers]
    # The tiny xl is weak, and how much its adapter takes in depends on the lab's text (this
    # Python's standard library): on 3.11.7 it writes the 64-copy street greedily, on
    # Debian's 3.11.2 not quite. What holds on both, by a margin of 2-5 nats: the adapter
    # made the most-copied address far likelier than the base model finds it, and likelier
    # than a once-seen customer's (measured: +3.9 to +5.0 and +2.2 to +3.6 nats a token).
    assert tuned_logp[-1] >= base_logp[-1] + 2.0, (tuned_logp, base_logp)
    assert tuned_logp[-1] >= tuned_logp[0] + 1.0, tuned_logp
    assert max(base_logp) < -4.0, base_logp  # the base never saw a conversation
