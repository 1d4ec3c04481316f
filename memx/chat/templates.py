"""Chat templates: which one a run uses, and the prompts the `divergence` and `template`
strategies render through it (docs/chat.md, "Chat models and fine-tunes").

`resolve_template(setting, tokenizer, adapter_tokenizer)` turns `target.chat_template`
into a Jinja source or None: `auto` is the adapter's tokenizer's template when the adapter
ships one, else the model's; `none` is None; anything else is a path to a Jinja file.
Rendering goes through transformers' own `apply_chat_template(chat_template=...)`, so a
template sees the same globals (`bos_token`, `raise_exception`, ...) and gives the same
text and token ids as `tokenizer.apply_chat_template` would: no special tokens are added
beyond what the template writes. This module knows no models, strategies or configs.
"""

from __future__ import annotations

from pathlib import Path

from memx.errors import ConfigError

TURNS = ("user", "assistant")
# Content no template rewrites (no edge whitespace to trim, no markup) and no text holds.
MARKER = "MEMXCUTMARKER7f3c9a"


def resolve_template(setting: str, tokenizer, adapter_tokenizer=None, field: str = "target.chat_template") -> str | None:
    """The Jinja source `setting` names: `auto`, `none` or a path to a template file."""
    if setting == "none":
        return None
    if setting == "auto":
        for tok in (adapter_tokenizer, tokenizer):
            template = getattr(tok, "chat_template", None) if tok is not None else None
            if isinstance(template, dict):  # several named templates: HF's default is "default"
                template = template.get("default")
            if template:
                return template
        return None
    path = Path(setting).expanduser()
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"{field}: cannot read {path} ({error.strerror or error})") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{field}: {path} is not UTF-8 text") from None
    if not text.strip():
        raise ConfigError(f"{field}: {path} is empty")
    return text


def render_text(tokenizer, template: str, messages: list[dict], generation_prompt: bool) -> str:
    """The template's text over `messages`, as `apply_chat_template(tokenize=False)` gives it."""
    return tokenizer.apply_chat_template(messages, chat_template=template, tokenize=False,
                                         add_generation_prompt=generation_prompt)


def encode_rendered(tokenizer, text: str) -> list[int]:
    """Token ids of rendered template text, tokenized as `apply_chat_template` does it."""
    return [int(i) for i in tokenizer(text, add_special_tokens=False)["input_ids"]]


def message_prompt(tokenizer, template: str | None, message: str) -> list[int]:
    """One user message with the generation prompt (or the message alone without a template)."""
    if template is None:
        return encode_rendered(tokenizer, message)
    return encode_rendered(tokenizer, render_text(tokenizer, template, [{"role": "user", "content": message}], True))


def cut_text(tokenizer, template: str, turn: str) -> str:
    """The `template` strategy's prompt text: the template's opening of a `turn` message.

    user: one user message whose content is MARKER, cut just before it (Magpie's
    pre-query template). assistant: an empty user message and the generation prompt, so
    the model answers nothing.
    """
    if turn not in TURNS:
        raise ValueError(f"turn must be one of {', '.join(TURNS)}, got {turn!r}")
    if turn == "assistant":
        return render_text(tokenizer, template, [{"role": "user", "content": ""}], True)
    text = render_text(tokenizer, template, [{"role": "user", "content": MARKER}], False)
    if text.count(MARKER) != 1:
        raise ConfigError("target.chat_template: the template does not write a user message's content once "
                          "verbatim; cannot cut its opening of a user turn")
    return text[: text.index(MARKER)]


def cut_prompt(tokenizer, template: str, turn: str) -> list[int]:
    """Token ids of `cut_text`; an empty cut (a template that writes nothing before the
    content) is an error, since a prompt needs at least one token."""
    ids = encode_rendered(tokenizer, cut_text(tokenizer, template, turn))
    if not ids:
        raise ConfigError(f"target.chat_template: the template writes nothing before a {turn} message")
    return ids


def template_problem(template: str | None, strategies: list[str]) -> str | None:
    """The input check of the `template` strategy, given the resolved template."""
    if "template" in strategies and template is None:
        return ("generation.strategies: 'template' needs a chat template (target.chat_template is none, "
                "or the tokenizer has none: give a Jinja file)")
    return None


def adapter_base_problem(adapter_config: dict, model: str, adapter_dir: str | None = None) -> str | None:
    """The input check of `target.adapter`: its adapter_config.json names another base.

    A relative local base (the lab's adapters name theirs so, to stay valid when copied)
    is taken relative to `adapter_dir`; local paths compare resolved, hub ids as written.
    An adapter that names no base is accepted (the user vouches for it)."""
    base = adapter_config.get("base_model_name_or_path")
    if not base or base == model:
        return None
    candidates = [Path(base).expanduser()]
    if adapter_dir is not None and not Path(base).is_absolute():
        candidates.append(Path(adapter_dir).expanduser() / base)
    target = Path(model).expanduser()
    if target.exists() and any(c.exists() and c.resolve() == target.resolve() for c in candidates):
        return None
    return f"target.adapter: the adapter was trained over {base}, not target.model ({model})"
