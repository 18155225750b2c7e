#!/usr/bin/env python3
"""Chat-template fixtures: tokenizers of four chat families and transformers' token ids.

No model hub is reachable, so each family's tokenizer is one of the small tokenizers the
tokenizer tests already use (Tests/TokenizersTests/Fixtures), with the family's special tokens
added and its chat template (written out here from the published templates' structure) in
tokenizer_config.json:

  chatml   SmolLM2's ChatML template (default system turn), byte-level BPE (tiny-qwen2)
  llama3   Llama 3's header/eot template, byte-level BPE (tiny-llama3)
  mistral  Mistral's [INST] template, SentencePiece-style BPE (tiny-spm-mistral)
  gemma    Gemma's start_of_turn template, SentencePiece-style BPE (tiny-spm-llama2)

For every conversation, transformers' apply_chat_template(messages, add_generation_prompt=True)
gives the text and the token ids (tokenize=True: the text tokenized without special tokens added).

Usage: python3 reference/make_chat_fixtures.py [OUT_DIR]  (default Tests/ProbeTests/Fixtures/chat)
"""
import json
import os
import shutil
import sys

import transformers
from transformers import PreTrainedTokenizerFast

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TOKENIZERS = os.path.join(ROOT, "Tests/TokenizersTests/Fixtures")

CHATML = (
    "{% for message in messages %}{% if loop.first and messages[0]['role'] != 'system' %}"
    "{{ '<|im_start|>system\\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\\n' }}"
    "{% endif %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)
LLAMA3 = (
    "{% set loop_messages = messages %}{% for message in loop_messages %}"
    "{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n'+ message['content'] | trim + '<|eot_id|>' %}"
    "{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{% endif %}"
)
MISTRAL = (
    "{{ bos_token }}{% for message in messages %}"
    "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
    "{% if message['role'] == 'user' %}{{ '[INST] ' + message['content'] + ' [/INST]' }}"
    "{% elif message['role'] == 'assistant' %}{{ message['content'] + eos_token}}"
    "{% else %}{{ raise_exception('Only user and assistant roles are supported!') }}{% endif %}{% endfor %}"
)
GEMMA = (
    "{{ bos_token }}{% if messages[0]['role'] == 'system' %}{{ raise_exception('System role not supported') }}{% endif %}"
    "{% for message in messages %}{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}"
    "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant/...') }}{% endif %}"
    "{% if (message['role'] == 'assistant') %}{% set role = 'model' %}{% else %}{% set role = message['role'] %}{% endif %}"
    "{{ '<start_of_turn>' + role + '\\n' + message['content'] | trim + '<end_of_turn>\\n' }}{% endfor %}"
    "{% if add_generation_prompt %}{{'<start_of_turn>model\\n'}}{% endif %}"
)

FAMILIES = {
    # name: (base tokenizer folder, template, bos, eos, special tokens to add)
    "chatml": ("tiny-qwen2", CHATML, None, "<|im_end|>", ["<|im_start|>", "<|im_end|>"]),
    "llama3": ("tiny-llama3", LLAMA3, "<|begin_of_text|>", "<|eot_id|>", ["<|start_header_id|>", "<|end_header_id|>"]),
    "mistral": ("tiny-spm-mistral", MISTRAL, "<s>", "</s>", []),
    "gemma": ("tiny-spm-llama2", GEMMA, "<s>", "</s>", ["<start_of_turn>", "<end_of_turn>"]),
}

PROBLEM = ("The lion is slow. If something is slow then it is big.\nQuestion: True or false: The lion is big.\nAnswer:")
CONVERSATIONS = [
    [{"role": "user", "content": PROBLEM}],
    [{"role": "user", "content": "  Naïve café ☕ — is it? \n\nAnswer:"}],
    [{"role": "user", "content": "Max is a wug.\nQuestion: Is Max a wug?\nAnswer: yes\n\nBob is a dax.\nQuestion: Is Bob a wug?\nAnswer:"}],
    [{"role": "user", "content": "Max is a wug. Is Max a wug?\nAnswer:"}, {"role": "assistant", "content": " yes"},
     {"role": "user", "content": "Bob is a dax. Is Bob a wug?\nAnswer:"}],
    [{"role": "system", "content": "Answer with True or False."}, {"role": "user", "content": PROBLEM}],
    [{"role": "user", "content": "Все коты серые. Мурка — кошка.\nQuestion: Мурка серая?\nAnswer:"}],
]


def make_family(name, out_dir):
    base, template, bos, eos, extra = FAMILIES[name]
    folder = os.path.join(out_dir, name)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(TOKENIZERS, base, "tokenizer.json"), encoding="utf-8") as f:
        tokenizer_json = json.load(f)
    next_id = max([*tokenizer_json["model"]["vocab"].values(), *(t["id"] for t in tokenizer_json["added_tokens"])]) + 1
    present = {t["content"] for t in tokenizer_json["added_tokens"]}
    for content in (c for c in extra if c not in present):
        tokenizer_json["added_tokens"].append({
            "id": next_id, "content": content, "single_word": False, "lstrip": False, "rstrip": False,
            "normalized": False, "special": True})
        next_id += 1
    with open(os.path.join(folder, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tokenizer_json, f, ensure_ascii=False)
    config = {"chat_template": template, "eos_token": eos}
    if bos:
        config["bos_token"] = bos
    with open(os.path.join(folder, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(config, f, ensure_ascii=False, indent=1)
    tokenizer = PreTrainedTokenizerFast(tokenizer_file=os.path.join(folder, "tokenizer.json"), bos_token=bos, eos_token=eos)
    tokenizer.chat_template = template
    cases = []
    for messages in CONVERSATIONS:
        roles = [m["role"] for m in messages]
        if name in ("mistral", "gemma") and "system" in roles:
            continue  # these templates refuse a system turn
        text = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        direct = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)
        if hasattr(direct, "keys"):
            direct = direct["input_ids"]
        assert list(direct) == ids, (name, messages)
        cases.append({"messages": messages, "text": text, "ids": ids})
    with open(os.path.join(folder, "expected.json"), "w", encoding="utf-8") as f:
        json.dump({"made_by": "reference/make_chat_fixtures.py", "transformers": transformers.__version__,
                   "family": name, "bos_token": bos, "eos_token": eos, "cases": cases}, f, ensure_ascii=False)
        f.write("\n")
    print(name, len(cases), "conversations", file=sys.stderr)


def make_default_model(out_dir):
    """The default model's own tokenizer and chat template (ChatML), read from its GGUF file."""
    from transformers import AutoTokenizer
    from make_probe_fixtures import DEFAULT_GGUF
    folder, name = os.path.split(DEFAULT_GGUF)
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    cases = []
    for messages in CONVERSATIONS:
        text = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        cases.append({"messages": messages, "text": text, "ids": tokenizer(text, add_special_tokens=False)["input_ids"]})
    with open(os.path.join(out_dir, "smollm2-gguf-expected.json"), "w", encoding="utf-8") as f:
        json.dump({"made_by": "reference/make_chat_fixtures.py", "transformers": transformers.__version__,
                   "family": "chatml", "model_file": name, "cases": cases}, f, ensure_ascii=False)
        f.write("\n")
    print("default model", len(cases), "conversations", file=sys.stderr)


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "Tests/ProbeTests/Fixtures/chat")
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    for name in FAMILIES:
        make_family(name, out_dir)
    make_default_model(out_dir)


if __name__ == "__main__":
    main()
