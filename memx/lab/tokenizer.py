"""A GPT-2-style byte-level BPE tokenizer trained on the lab's training corpus.

Trained with the `tokenizers` package (same pre-tokenizer and byte alphabet as GPT-2,
so any UTF-8 text round-trips) and saved as a fast tokenizer directory that
`transformers.AutoTokenizer.from_pretrained` loads, with `<|endoftext|>` as BOS, EOS
and UNK. No pad token is set: memx masks padding by position and uses EOS as the pad
id, like GPT-2. This module does not know about canaries or models.
"""

from __future__ import annotations

import os
from pathlib import Path

EOS = "<|endoftext|>"


def train_tokenizer(docs: list[str], vocab_size: int, out_dir: Path):
    """Train, save to out_dir, and return the transformers fast tokenizer."""
    # The BPE trainer counts pairs in parallel but merges deterministically; pinning the
    # thread pool also keeps the build from oversubscribing a shared 2-core machine.
    os.environ.setdefault("RAYON_NUM_THREADS", "2")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=2,
        special_tokens=[EOS],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(docs, trainer=trainer, length=len(docs))
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token=EOS,
        eos_token=EOS,
        unk_token=EOS,
        model_max_length=1_000_000,
        clean_up_tokenization_spaces=False,
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    fast.save_pretrained(str(out_dir))
    return fast


def encode_documents(tokenizer, docs: list[str]) -> list[int]:
    """One token stream: EOS before every document, as GPT-2 separates its training texts."""
    eos = tokenizer.eos_token_id
    stream: list[int] = []
    encoded = tokenizer(docs, add_special_tokens=False)["input_ids"]
    for ids in encoded:
        stream.append(eos)
        stream.extend(ids)
    return stream
