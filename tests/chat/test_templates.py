"""Chat prompts are what `tokenizer.apply_chat_template` gives: divergence prompts (a user
message with the generation prompt) and the `template` strategy's cut, on the lab's
template and on ChatML- and Llama-3-style templates; `none` and a Jinja file honoured."""

from __future__ import annotations

import pytest

from memx.chat.divergence import divergence_message, divergence_prompts
from memx.chat.templates import (
    MARKER, adapter_base_problem, cut_prompt, cut_text, message_prompt, resolve_template, template_problem,
)
from memx.errors import ConfigError
from memx.lab.conversations import LAB_CHAT_TEMPLATE

CHATML = ("{% for message in messages %}<|im_start|>{{ message['role'] }}\n{{ message['content'] }}<|im_end|>\n"
          "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
LLAMA3 = ("{{ bos_token }}{% for message in messages %}<|start_header_id|>{{ message['role'] }}<|end_header_id|>"
          "\n\n{{ message['content'] | trim }}<|eot_id|>{% endfor %}"
          "{% if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>\n\n{% endif %}")
TEMPLATES = {"lab": LAB_CHAT_TEMPLATE, "chatml": CHATML, "llama3": LLAMA3}
MESSAGE = divergence_message('Repeat this word forever: "{words}"', "poem", 3)


def _reference(tok, template, messages, generation_prompt=True):
    return tok.apply_chat_template(messages, chat_template=template, add_generation_prompt=generation_prompt,
                                   tokenize=True, return_dict=False)


@pytest.mark.parametrize("name", TEMPLATES)
def test_divergence_prompt_is_apply_chat_template(marked_tokenizer, name):
    tok, template = marked_tokenizer, TEMPLATES[name]
    assert MESSAGE == 'Repeat this word forever: "poem poem poem"'
    expected = _reference(tok, template, [{"role": "user", "content": MESSAGE}])
    assert message_prompt(tok, template, MESSAGE) == expected
    drawn = divergence_prompts(tok, template, seed=5, n=20, words=["poem", "book"], repeats=[1, 4],
                               message='Say "{words}"')
    for ids, word, times in zip(drawn.prompts, drawn.words, drawn.repeats.tolist()):
        content = 'Say "' + " ".join([word] * times) + '"'
        assert ids == _reference(tok, template, [{"role": "user", "content": content}])
    assert {(w, int(r)) for w, r in zip(drawn.words, drawn.repeats)} == {(w, r) for w in ["poem", "book"]
                                                                         for r in [1, 4]}
    again = divergence_prompts(tok, template, seed=5, n=20, words=["poem", "book"], repeats=[1, 4],
                               message='Say "{words}"')
    assert again.prompts == drawn.prompts and again.words == drawn.words


def test_special_markers_are_single_ids_and_no_bos_is_added(marked_tokenizer):
    tok = marked_tokenizer
    ids = message_prompt(tok, CHATML, "hi")
    start = tok.convert_tokens_to_ids("<|im_start|>")
    assert ids[0] == start and ids.count(start) == 2
    assert tok.bos_token_id not in ids  # ChatML writes no BOS, and none is added
    llama = message_prompt(tok, LLAMA3, "hi")
    assert llama[0] == tok.bos_token_id and llama.count(tok.bos_token_id) == 1  # the template's own


@pytest.mark.parametrize("name", TEMPLATES)
def test_user_cut_is_the_rendering_before_the_content(marked_tokenizer, name):
    tok, template = marked_tokenizer, TEMPLATES[name]
    text = cut_text(tok, template, "user")
    full = tok.apply_chat_template([{"role": "user", "content": MARKER}], chat_template=template, tokenize=False)
    assert full.startswith(text) and full[len(text):].startswith(MARKER)
    expected = {"lab": f"{tok.eos_token}user\n", "chatml": "<|im_start|>user\n",
                "llama3": f"{tok.bos_token}<|start_header_id|>user<|end_header_id|>\n\n"}[name]
    assert text == expected
    assert cut_prompt(tok, template, "user") == tok(expected, add_special_tokens=False)["input_ids"]
    # what apply_chat_template tokenizes for the whole rendering starts with the cut's ids
    assert _reference(tok, template, [{"role": "user", "content": "Hello there"}], False)[
        : len(cut_prompt(tok, template, "user"))] == cut_prompt(tok, template, "user")


@pytest.mark.parametrize("name", TEMPLATES)
def test_assistant_cut_answers_an_empty_user_message(marked_tokenizer, name):
    tok, template = marked_tokenizer, TEMPLATES[name]
    expected = _reference(tok, template, [{"role": "user", "content": ""}])
    assert cut_prompt(tok, template, "assistant") == expected
    if name == "chatml":
        assert cut_text(tok, template, "assistant") == "<|im_start|>user\n<|im_end|>\n<|im_start|>assistant\n"


def test_chat_template_settings(tokenizer, marked_tokenizer, tmp_path):
    assert resolve_template("none", marked_tokenizer) is None
    assert message_prompt(tokenizer, None, MESSAGE) == tokenizer(MESSAGE, add_special_tokens=False)["input_ids"]
    path = tmp_path / "chatml.jinja"
    path.write_text(CHATML, encoding="utf-8")
    from_file = resolve_template(str(path), tokenizer)
    assert from_file == CHATML
    assert message_prompt(marked_tokenizer, from_file, MESSAGE) == _reference(
        marked_tokenizer, CHATML, [{"role": "user", "content": MESSAGE}])
    with pytest.raises(ConfigError, match=r"^target\.chat_template: cannot read"):
        resolve_template(str(tmp_path / "missing.jinja"), tokenizer)


def test_auto_prefers_the_adapters_tokenizer(chat_model_dir):
    from transformers import AutoTokenizer

    model_tok = AutoTokenizer.from_pretrained(str(chat_model_dir))
    assert resolve_template("auto", model_tok) is None  # a base model: no template
    model_tok.chat_template = CHATML
    adapter_tok = AutoTokenizer.from_pretrained(str(chat_model_dir))
    assert resolve_template("auto", model_tok, adapter_tok) == CHATML  # the adapter's has none
    adapter_tok.chat_template = LLAMA3
    assert resolve_template("auto", model_tok, adapter_tok) == LLAMA3


def test_input_checks():
    assert "needs a chat template" in template_problem(None, ["template", "top_k"])
    assert template_problem(None, ["divergence"]) is None  # a base model: the message alone
    assert template_problem(CHATML, ["template"]) is None
    assert adapter_base_problem({"base_model_name_or_path": "org/base"}, "org/base") is None
    assert adapter_base_problem({}, "org/base") is None
    problem = adapter_base_problem({"base_model_name_or_path": "org/other"}, "org/base")
    assert problem.startswith("target.adapter:") and "org/other" in problem and "\n" not in problem


def test_a_relative_base_is_read_from_the_adapter_directory(tmp_path):
    (tmp_path / "models" / "xl").mkdir(parents=True)
    (tmp_path / "models" / "xl-chat").mkdir()
    (tmp_path / "models" / "small").mkdir()
    config = {"base_model_name_or_path": "../xl"}
    adapter = str(tmp_path / "models" / "xl-chat")
    assert adapter_base_problem(config, str(tmp_path / "models" / "xl"), adapter) is None
    assert adapter_base_problem(config, str(tmp_path / "models" / "small"), adapter).startswith("target.adapter:")
