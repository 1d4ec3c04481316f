"""The lab's chat fine-tune: support conversations, a LoRA adapter over the xl trained on
them with `peft`, and one verification index over the pretraining corpus and the
conversations (docs/chat.md#lab).

Writes, inside a lab being built:
- `corpus/conversations.jsonl`: every conversation of the fine-tune corpus (copies
  included), one JSON line of `messages` each;
- `customers.parquet`: the planted customers, their personal data and copy counts;
- `models/xl-chat`: the PEFT adapter directory, with the lab tokenizer carrying the chat
  template (`target.chat_template: auto` finds it there; the base tokenizer is untouched);
- `chat-index`: a byte-level index of `corpus/train.jsonl` and of every conversation's
  turns, each turn a document (the end-of-turn token breaks every span). The lab's
  `index` stays the pretraining corpus alone, so runs against it keep their results.

Training is `memx.lab.train`'s loop (context-length windows of the conversations' token
stream at a fresh offset every epoch, one thread) over the adapter's weights only.
It knows nothing about runs or the demo.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from memx.lab.conversations import LAB_CHAT_TEMPLATE, index_documents, make_conversations, render_conversations
from memx.lab.train import _epoch_batches, _lr_at

ADAPTER = "xl-chat"
LORA_TARGETS = ["c_attn", "c_proj", "c_fc"]  # every linear map of a GPT-2 block


@dataclass(frozen=True)
class ChatSpec:
    customers_per_count: int  # planted customers for each copy count 1, 2, 4, ... 64
    background: int  # conversations that occur once, each with its own customer
    rank: int
    epochs: float
    batch_size: int
    lr: float

    def to_dict(self) -> dict:
        return asdict(self)


def build_chat(lab: Path, spec: ChatSpec, seed: int, context: int, progress: bool = False) -> dict:
    """Build the chat part inside `lab` (its corpus, tokenizer and xl already written);
    return what lab.json records under "chat"."""
    from transformers import AutoTokenizer

    started = time.perf_counter()
    tokenizer = AutoTokenizer.from_pretrained(str(lab / "tokenizer"))
    planted, talks = make_conversations(seed, spec.customers_per_count, spec.background)
    rendered = render_conversations(tokenizer, talks)
    with (lab / "corpus" / "conversations.jsonl").open("w", encoding="utf-8") as f:
        for talk in talks:
            f.write(json.dumps({"messages": talk}) + "\n")
    with (lab / "corpus" / "conversation-turns.jsonl").open("w", encoding="utf-8") as f:
        for turn in index_documents(rendered, tokenizer.eos_token):
            f.write(json.dumps({"text": turn}) + "\n")
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(pa.Table.from_pylist([c.to_dict() for c in planted]), lab / "customers.parquet")
    stream = [i for text in rendered for i in tokenizer(text, add_special_tokens=False)["input_ids"]]
    corpus_seconds = time.perf_counter() - started

    t = time.perf_counter()
    trained = train_adapter(lab / "models" / "xl", stream, spec, seed, context, lab / "models" / ADAPTER)
    tokenizer.chat_template = LAB_CHAT_TEMPLATE
    tokenizer.save_pretrained(str(lab / "models" / ADAPTER))
    train_seconds = time.perf_counter() - t

    t = time.perf_counter()
    from memx.index import build_index

    build_index([lab / "corpus" / "train.jsonl", lab / "corpus" / "conversation-turns.jsonl"], lab / "chat-index",
                progress=progress)
    return {
        "adapter": f"models/{ADAPTER}", "base": "models/xl", "index": "chat-index", "settings": spec.to_dict(),
        "conversations": len(talks), "conversation_tokens": len(stream),
        "customers": [{"customer_id": c.customer_id, "copies": c.copies} for c in planted],
        "train": trained,
        "seconds": {"corpus": round(corpus_seconds, 2), "train": round(train_seconds, 2),
                    "index": round(time.perf_counter() - t, 2)},
    }


def train_adapter(base_dir: Path, stream: list[int], spec: ChatSpec, seed: int, context: int, out: Path) -> dict:
    """LoRA over the model in `base_dir`, trained on `stream`; saved to `out` (adapter only)."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM
    from transformers.utils import logging as hf_logging

    from memx.models import quiet_peft

    hf_logging.disable_progress_bar()  # the lab prints one line per stage, not a bar per load

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as memx.lab.train: one thread beats two spinning on a shared machine
    try:
        torch.manual_seed(seed)
        base = AutoModelForCausalLM.from_pretrained(str(base_dir), dtype=torch.float32)
        base.loss_type = "ForCausalLM"
        # GPT-2's Conv1D stores weights transposed: fan_in_fan_out says so to peft
        config = LoraConfig(r=spec.rank, lora_alpha=2 * spec.rank, lora_dropout=0.0, target_modules=LORA_TARGETS,
                            fan_in_fan_out=True, task_type="CAUSAL_LM")
        with quiet_peft():
            model = get_peft_model(base, config)
        model.train()
        data = torch.tensor(stream, dtype=torch.long)
        per_epoch = max(1, (len(stream) // context + spec.batch_size - 1) // spec.batch_size)
        total = max(1, round(per_epoch * spec.epochs))
        params = [p for p in model.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(params, lr=spec.lr, betas=(0.9, 0.95), weight_decay=0.0)
        gen = torch.Generator().manual_seed(seed)
        losses: list[float] = []
        step = 0
        while step < total:
            for batch in _epoch_batches(data, context, spec.batch_size, gen):
                if step >= total:
                    break
                for group in optimizer.param_groups:
                    group["lr"] = _lr_at(step, total, spec.lr)
                loss = model(input_ids=batch, labels=batch).loss
                loss.backward()
                torch.nn.utils.clip_grad_norm_(params, 1.0)
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
                losses.append(loss.item())
                step += 1
        model.eval()
        out.mkdir(parents=True, exist_ok=True)
        model.save_pretrained(str(out))
        (out / "README.md").unlink(missing_ok=True)  # peft's model card names the temporary build path
        _portable_base(out, "../xl")
    finally:
        torch.set_num_threads(threads)
    tail = losses[-max(1, len(losses) // 20):]
    return {"steps": total, "first_loss": round(losses[0], 4), "final_loss": round(sum(tail) / len(tail), 4),
            "adapter_parameters": sum(p.numel() for p in params)}


def _portable_base(adapter_dir: Path, relative: str) -> None:
    """adapter_config.json names its base relative to itself: the lab is built in a
    temporary directory and renamed, and may be copied anywhere."""
    path = adapter_dir / "adapter_config.json"
    config = json.loads(path.read_text(encoding="utf-8"))
    config["base_model_name_or_path"] = relative
    path.write_text(json.dumps(config, indent=2, sort_keys=True), encoding="utf-8")
