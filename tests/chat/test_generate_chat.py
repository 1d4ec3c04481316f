"""`divergence` and `template` shards from `generate_shard` on a tiny GPT-2 with the lab's
chat template: prompts as the template renders them, the divergence columns as
`divergence_points` finds them in the generated tokens, `span_from` on every strategy's
rows, and the same rows from the same seed."""

from __future__ import annotations

import dataclasses

import pyarrow as pa
import pytest

from memx.chat.divergence import NOT_DIVERGED, divergence_message, divergence_points
from memx.chat.templates import cut_prompt, message_prompt
from memx.config import GenerationConfig
from memx.errors import ConfigError
from memx.generation import SAMPLE_SCHEMA, generate_shard
from memx.lab.conversations import LAB_CHAT_TEMPLATE
from memx.models import load_causal_lm
from memx.plan import ShardSpec, shard_seed

GEN = GenerationConfig(strategies=["divergence", "template", "top_k"], samples_per_strategy=12, shard_size=6,
                       batch_size=4, max_new_tokens=10,
                       divergence={"words": ["the", "river"], "repeats": [1, 3], "max_new_tokens": 14})


@pytest.fixture(scope="module")
def chat_lm(chat_model_dir):
    import torch

    torch.set_num_threads(1)
    lm = load_causal_lm(str(chat_model_dir), dtype="float32", device="cpu")
    return dataclasses.replace(lm, chat_template=LAB_CHAT_TEMPLATE)


def _rows(lm, strategy, gen=GEN):
    spec = ShardSpec("samples", strategy, 1, 6, 6, shard_seed(0, strategy, 1))
    table = pa.Table.from_batches(list(generate_shard(lm, spec, gen)), schema=SAMPLE_SCHEMA)
    return table


def test_divergence_rows(chat_lm):
    table = _rows(chat_lm, "divergence")
    rows = table.to_pylist()
    assert len(rows) == 6 and all(len(r["token_ids"]) == 14 for r in rows)
    found = divergence_points(table.column("token_ids"), table.column("word").to_pylist(), chat_lm.byte_table())
    for row, repeated, at in zip(rows, found["repeated"].tolist(), found["diverged_at"].tolist()):
        message = divergence_message(GEN.divergence.message, row["word"], row["repeats"])
        assert row["prompt_ids"] == message_prompt(chat_lm.tokenizer, LAB_CHAT_TEMPLATE, message)
        assert row["repeated"] == repeated
        assert row["diverged_at"] == (None if at == NOT_DIVERGED else at)
        assert row["span_from"] == (14 if at == NOT_DIVERGED else at)
    assert table.equals(_rows(chat_lm, "divergence"))  # the shard seed decides everything


def test_template_and_top_k_rows(chat_lm):
    template = _rows(chat_lm, "template").to_pylist()
    cut = cut_prompt(chat_lm.tokenizer, LAB_CHAT_TEMPLATE, "user")
    assert all(r["prompt_ids"] == cut and len(r["token_ids"]) == 10 for r in template)
    for rows in (template, _rows(chat_lm, "top_k").to_pylist()):
        assert all(r["span_from"] == 0 and r["repeated"] is None and r["diverged_at"] is None
                   and r["word"] is None for r in rows)
    assistant = GEN.model_copy(update={"template": GEN.template.model_copy(update={"turn": "assistant"})})
    rows = _rows(chat_lm, "template", assistant).to_pylist()
    assert rows[0]["prompt_ids"] == cut_prompt(chat_lm.tokenizer, LAB_CHAT_TEMPLATE, "assistant")


def test_template_without_a_chat_template_is_a_config_error(chat_lm):
    with pytest.raises(ConfigError, match="needs a chat template"):
        _rows(dataclasses.replace(chat_lm, chat_template=None), "template")
    # divergence on a base model: the message alone
    rows = _rows(dataclasses.replace(chat_lm, chat_template=None), "divergence").to_pylist()
    message = divergence_message(GEN.divergence.message, rows[0]["word"], rows[0]["repeats"])
    assert rows[0]["prompt_ids"] == chat_lm.tokenizer(message, add_special_tokens=False)["input_ids"]
