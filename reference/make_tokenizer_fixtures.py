#!/usr/bin/env python3
"""Reference fixtures for TokenizersTests, from Hugging Face `tokenizers`.

Writes into Tests/TokenizersTests/Fixtures/:

  smollm2-gguf-expected.json   ids, byte offsets and decodings of the corpus (several hundred strings)
                               for the default model's GGUF, tokenized as the original Hugging Face
                               SmolLM2 tokenizer.json does (see `FAMILIES`)
  tiny-<name>/tokenizer.json   tiny byte-level BPE tokenizers trained here, one per family
  tiny-<name>/tokenizer_config.json
  tiny-<name>/expected.json    their expected ids and offsets
  tiny-<name>.gguf             the same vocabularies as tokenizer-only GGUF files
  tiny-<name>-gguf-expected.json
  bad-gguf/*.gguf              tokenizer-only GGUF files that each break one rule

Deterministic: the corpus is drawn in a fixed order from ../shared/datasets-public, fixed strings and a
seeded generator. Run from anywhere:

    python3 reference/make_tokenizer_fixtures.py [--model PATH] [--datasets DIR]

The GGUF holds no tokenizer.json, so the reference tokenizer is rebuilt from the GGUF's vocabulary and
merges with the pipeline of the model's original tokenizer.json. For SmolLM2 that is
Sequence[Digits(individual_digits=true), ByteLevel(add_prefix_space=false, use_regex=true)], a ByteLevel
decoder, no BOS, and the control tokens (ids 0-16) as special tokens; transformers' own GGUF loader
(`AutoTokenizer.from_pretrained(dir, gguf_file=...)`) leaves out the Digits step, and the script
reports where that changes the ids.
"""

import argparse
import json
import os
import random
from pathlib import Path

import gguf
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "Tests" / "TokenizersTests" / "Fixtures"
MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"

GPT2_PATTERN = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"
LLAMA3_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}"
                  r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN2_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}"
                 r"| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")


def split(pattern):
    return pre_tokenizers.Split(Regex(pattern), behavior="isolated", invert=False)


# tokenizer.ggml.pre -> (normalizer, pre-tokenizer, ignore_merges) of the family's original tokenizer.json.
FAMILIES = {
    "smollm": (None, lambda: pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=True)]), False),
    "gpt-2": (None, lambda: pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=True), False),
    "llama-bpe": (None, lambda: pre_tokenizers.Sequence([
        split(LLAMA3_PATTERN), pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)]), True),
    "qwen2": (normalizers.NFC, lambda: pre_tokenizers.Sequence([
        split(QWEN2_PATTERN), pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)]), False),
}


def default_model_path():
    if os.environ.get("QKPROBE_CACHE"):
        cache = Path(os.environ["QKPROBE_CACHE"])
    elif os.environ.get("XDG_CACHE_HOME"):
        cache = Path(os.environ["XDG_CACHE_HOME"]) / "qkprobe"
    else:
        cache = Path.home() / ".cache" / "qkprobe"
    return cache / "models" / MODEL_FILE


# ---------------------------------------------------------------------------------------------------
# The reference tokenizer of a GGUF file


def gguf_field(reader, key, default=None):
    field = reader.fields.get(key)
    return default if field is None else field.contents()


def reference_from_gguf(path):
    """The Hugging Face tokenizer a byte-level GGUF stands for (see the module docstring)."""
    reader = gguf.GGUFReader(str(path))
    model_type = gguf_field(reader, "tokenizer.ggml.model")
    if model_type != "gpt2":
        raise SystemExit(f"{path}: tokenizer.ggml.model {model_type!r} is not byte-level BPE")
    pre = gguf_field(reader, "tokenizer.ggml.pre")
    normalizer, pre_tokenizer, ignore_merges = FAMILIES[pre]
    tokens = gguf_field(reader, "tokenizer.ggml.tokens")
    types = gguf_field(reader, "tokenizer.ggml.token_type")
    merges = [tuple(m.split(" ")) for m in gguf_field(reader, "tokenizer.ggml.merges")]
    vocab = {token: index for index, token in enumerate(tokens)}
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges, ignore_merges=ignore_merges))
    if normalizer is not None:
        tok.normalizer = normalizer()
    tok.pre_tokenizer = pre_tokenizer()
    tok.decoder = decoders.ByteLevel()
    # Control tokens (3) are special; user-defined ones (4) are added tokens that are not special.
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False)
                            for t, kind in zip(tokens, types) if kind == 3])
    tok.add_tokens([AddedToken(t, special=False, normalized=False) for t, kind in zip(tokens, types) if kind == 4])
    bos = gguf_field(reader, "tokenizer.ggml.bos_token_id")
    eos = gguf_field(reader, "tokenizer.ggml.eos_token_id")
    template = ["$A"]
    special = {}
    if gguf_field(reader, "tokenizer.ggml.add_bos_token", False):
        template.insert(0, tokens[bos])
        special[tokens[bos]] = bos
    if gguf_field(reader, "tokenizer.ggml.add_eos_token", False):
        template.append(tokens[eos])
        special[tokens[eos]] = eos
    tok.post_processor = processors.TemplateProcessing(single=" ".join(template), special_tokens=list(special.items()))
    info = {"kind": f"bpe/{pre}", "bos_token_id": bos, "eos_token_id": eos, "vocab_size": len(tokens),
            "adds_bos_token": bool(gguf_field(reader, "tokenizer.ggml.add_bos_token", False))}
    return tok, info


# ---------------------------------------------------------------------------------------------------
# The corpus


def read_json_any_encoding(path):
    raw = path.read_bytes()
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        return json.loads(raw.decode("cp1252"))


def dataset_strings(datasets):
    out = []
    # PARARULE-Plus: contexts and questions from every depth.
    for depth in (2, 3, 4, 5):
        lines = (datasets / "pararule-plus" / f"depth{depth}_test.jsonl").read_text(encoding="utf-8").splitlines()
        for line in lines[:6]:
            record = json.loads(line)
            out.append(record["context"])
            out += [q["text"] for q in record["questions"][:3]]
    # Multi-LogiEval: one sample of every fourth file, and every sample with non-ASCII text from the
    # three cp1252 files.
    files = sorted((datasets / "multi-logieval" / "data").rglob("*.json"))
    cp1252 = {"d1_Data/nm/default_reasoning_open.json", "d1_Data/pl/CT.json", "d5_Data/pl/BD_C_DS_MP_MP.json"}
    for index, path in enumerate(files):
        relative = path.relative_to(datasets / "multi-logieval" / "data").as_posix()
        samples = read_json_any_encoding(path)["samples"]
        if relative in cp1252:
            picked = [s for s in samples if not (s["context"] + s["question"]).isascii()][:4] or samples[:2]
        elif index % 4 == 0:
            picked = samples[:1]
        else:
            continue
        for sample in picked:
            out += [sample["context"], sample["question"]]
    # ProntoQA: contexts, questions and options, and whole prompts as the probe renders them.
    records = json.loads((datasets / "prontoqa-logic-llm" / "dev.json").read_text(encoding="utf-8"))
    for record in records[:12]:
        out += [record["context"], record["question"], " ".join(record["options"])]
    for record in records[12:16]:
        out.append(f"{record['context']}\nQuestion: {record['question']}\nAnswer:")
    # A long passage (about 2,000 characters) of several contexts.
    passage = ""
    for line in (datasets / "pararule-plus" / "depth5_test.jsonl").read_text(encoding="utf-8").splitlines()[10:]:
        passage += json.loads(line)["context"] + "\n\n"
        if len(passage) > 2000:
            break
    out.append(passage[:2000])
    return out


# Valid Unicode that looks odd: NFC and NFD forms, combining marks, Hangul jamo, scalars newer than
# the regex engine's tables.
UNICODE_ODDITIES = [
    "é", "e\u0301", "café", "cafe\u0301", "\u212b", "ﬁ", "x\u0344y", "a\u0323\u0307", "a\u0307\u0323",
    "Z\u0324\u0354\u0367\u0311a\u0316\u036d", "\u1100\u1161\u11a8", "ǅ", "ß", "İstanbul", "ſ", "\u0958",
    "\u0301start", "\x00\x01\x1b[31m", "\x7f", "\x1c\x1d", "\U00016ff4x", "q\U00011de0", "a\u0301\u0301b",
    "\u0915\u093c\u0301", "Cafe\u0301 e\u0301te\u0301 123", "\uac00\u11a8", "\u1100\u1161 \u1100\u1161\u11a8\u11a8",
]

FIXED_STRINGS = [
    # empty, single characters, whitespace alone
    "", " ", "  ", "\n", "\t", "\r\n", "a", ".", "'",
    # English basics and answers
    "Hello world", "Hello, world!", "The quick brown fox jumps over the lazy dog.",
    " True", " False", " yes", " no", "True", "False", "Answer:", "Answer: True", "\nAnswer:",
    "A) True B) False", "Is the following statement true or false? Max is sour.\nAnswer:",
    # other scripts
    "Привет, мир! Как дела?", "Съешь же ещё этих мягких французских булок, да выпей чаю.",
    "Если кошка чёрная, то она спит. Кошка чёрная. Спит ли кошка?",
    "你好，世界！", "我爱自然语言处理。", "如果所有的人都会死，苏格拉底是人，那么苏格拉底会死。",
    "こんにちは世界", "日本語のテキストとカタカナ「テスト」です。", "東京は2024年に晴れ。",
    "مرحبا بالعالم", "اللغة العربية جميلة ١٢٣", "नमस्ते दुनिया", "हिन्दी में परीक्षण। १२३",
    "안녕하세요 세계", "Γειά σου Κόσμε", "שלום עולם", "สวัสดีชาวโลก", "Ελληνικά και English mixed",
    # emoji, ZWJ sequences, skin tones, flags
    "😀", "👍🏽", "👨‍👩‍👧‍👦", "🏳️‍🌈", "❤️", "🇺🇸🇯🇵", "I love 🍕 and 🍣!", "👩🏿‍💻 coding", "✅❌⚠️",
    "😀😀😀", "emoji👍🏽inside", "🤔?", " 🙂 ",
    # digits and numbers
    "0", "123", "1234567890", "3.14159", "1,000,000", "2024-06-01", "+1 (555) 123-4567", "99.9%", "x1y2z3",
    "١٢٣٤", "½ ¾ ²", "Ⅻ", "12345678901234567890123456789", "a 1", "a  12", " 42 ", "1st 2nd 3rd", "v1.2.3",
    # spaces, tabs, newlines, mixed ends
    "a  b", "a   b", "   leading", "trailing   ", "\t\tindent", "line1\nline2", "line1\n\nline2", "a \n b",
    "\n\n\n", "  \n  \n", "x\r\ny", "\r\r\n\n", " \t \n \r\n ", "end with newline\n", "end with space ",
    " \t\n", "\n a", "a\n ", "a \t", "\t a \n", "a\u00a0b", "\u00a0nbsp", "a\u3000b", "a\u2028b", "a\u200bb",
    "\ufeffBOM", "a\x85b", "a\x1cb", "    def f(x):\n        return x ** 2\n",
    # contractions
    "It's", "don't", "they're", "we've", "I'm", "you'll", "he'd", "IT'S", "DON'T", "They'RE", "WE'VE",
    "rock'n'roll", "'s", "''", "it''s", "O'Neil's", "it’s", "it'ſ", "She said 'yes'.",
    # punctuation runs, code, URLs
    "!!!", "???", "...", "—", "--", "->", "=>", "(a+b)*c", '{"key": [1, 2]}', "<html><body>",
    "#include <stdio.h>", "C:\\path\\to", "http://example.com/a?b=c&d=e", "@user #tag $5 %20 ^_^ ~",
    "¡Hola! ¿Qué tal?", "«quotes» “curly” ‘single’", "...!?!...", "a.b,c;d:e", "-->\n", "**bold** _it_",
    # special tokens, next to and inside text
    "<|im_start|>user\nHi<|im_end|>",
    "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
    "<|im_start|>user\nIs it true?<|im_end|>\n<|im_start|>assistant\n",
    "<|endoftext|>", "a<|endoftext|>b", " <|im_start|> ", "<|im_start|><|im_end|>", "<|im_start", "<|im_start|",
    "<|im_end|>>", "<<|im_start|>>", "<repo_name>x<file_sep>y", "<jupyter_code>print(1)<jupyter_output>1<empty_output>",
    "<|IM_START|>", "<|im_start|>\n\n", "text<|endoftext|>\n<|endoftext|>", "1<|im_end|>2", "<|im_start|>😀",
    *UNICODE_ODDITIES,
    # long words and runs
    "supercalifragilisticexpialidocious", "a" * 100, "ab" * 50, "=" * 80, " " * 50, "\n" * 20, "0" * 40,
    "😀" * 10, "Pneumonoultramicroscopicsilicovolcanoconiosis",
]


def fuzz_strings(count, seed):
    """Random mixtures of the kinds of characters the split patterns treat differently."""
    pools = ["abcXYZ", "0123456789", " ", "  ", "\t", "\n", "\r\n", "'", "'s", "'T", ".,!?;:-()", "é",
             "e\u0301", "ß", "Ж", "中文", "😀", "👍🏽", "’", "\u00a0", "١٢", "<|im_start|>", "<|im_end|>", "<|endoftext|>"]
    rng = random.Random(seed)
    return ["".join(rng.choice(pools) for _ in range(rng.randint(1, 24))) for _ in range(count)]


def corpus(datasets, seed):
    strings = dataset_strings(datasets) + FIXED_STRINGS + fuzz_strings(80, seed)
    unique = list(dict.fromkeys(strings))
    return unique


# ---------------------------------------------------------------------------------------------------
# Expected outputs


def byte_offsets(text, char_offsets):
    """tokenizers' Python offsets count characters; the Swift API counts UTF-8 bytes."""
    starts = [0]
    for character in text:
        starts.append(starts[-1] + len(character.encode("utf-8")))
    return [[starts[a], starts[b]] for a, b in char_offsets]


def expected_cases(tok, texts):
    cases = []
    for text in texts:
        with_special = tok.encode(text, add_special_tokens=True)
        without_special = tok.encode(text, add_special_tokens=False)
        case = {"text": text, "ids": with_special.ids, "offsets": byte_offsets(text, with_special.offsets)}
        if without_special.ids != with_special.ids:
            case["ids_without_special"] = without_special.ids
            case["offsets_without_special"] = byte_offsets(text, without_special.offsets)
        case["decoded"] = tok.decode(with_special.ids, skip_special_tokens=False)
        case["decoded_skipping_special"] = tok.decode(with_special.ids, skip_special_tokens=True)
        cases.append(case)
    return cases


def pre_tokenizer_splits(texts):
    """The pieces each pre-tokenizer step cuts the corpus into, as byte ranges, to check the scanners alone."""
    steps = {
        "gpt2": split(GPT2_PATTERN), "llama3": split(LLAMA3_PATTERN), "qwen2": split(QWEN2_PATTERN),
        "digits": pre_tokenizers.Digits(individual_digits=True),
        "digits-contiguous": pre_tokenizers.Digits(individual_digits=False),
    }
    return {name: [byte_offsets(text, [offsets for _, offsets in step.pre_tokenize_str(text)]) for text in texts]
            for name, step in steps.items()}


def write_json(path, value):
    path.write_text(json.dumps(value, ensure_ascii=False, indent=None, separators=(",", ":")) + "\n", encoding="utf-8")


def compare_with_transformers(model_path, reference, texts):
    """Where transformers' own GGUF tokenizer differs from the reference (it has no Digits step)."""
    from transformers import AutoTokenizer

    hf = AutoTokenizer.from_pretrained(str(model_path.parent), gguf_file=model_path.name)
    differing = [t for t in texts if hf(t, add_special_tokens=True)["input_ids"] != reference.encode(t).ids]
    return {"compared": len(texts), "differing": len(differing), "examples": differing[:5]}


# ---------------------------------------------------------------------------------------------------
# Tiny tokenizers


def train_tiny(texts, normalizer, pre_tokenizer, vocab_size, special_tokens):
    tok = Tokenizer(models.BPE())
    if normalizer is not None:
        tok.normalizer = normalizer
    tok.pre_tokenizer = pre_tokenizer
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=special_tokens, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(texts, trainer)
    return tok


def with_extra_vocab(tok, token):
    """A vocabulary entry no merge makes: only `ignore_merges` can produce it."""
    data = json.loads(tok.to_str())
    data["model"]["vocab"][token] = max(data["model"]["vocab"].values()) + 1
    return Tokenizer.from_str(json.dumps(data))


def tiny_tokenizers(training_texts):
    tiny = {}

    gpt2 = train_tiny(training_texts, None, pre_tokenizers.ByteLevel(add_prefix_space=True, use_regex=True), 700,
                      ["<|endoftext|>"])
    gpt2.post_processor = processors.ByteLevel(trim_offsets=True, add_prefix_space=True)
    gpt2.add_special_tokens([AddedToken("<mask>", special=True, lstrip=True, rstrip=True, normalized=False)])
    gpt2.add_tokens([AddedToken("[NOTE]", special=False), AddedToken("XYZ", single_word=True, special=False)])
    tiny["gpt2"] = (gpt2, {"bos_token": None, "eos_token": "<|endoftext|>"})

    llama = train_tiny(training_texts, None, pre_tokenizers.Sequence([
        split(LLAMA3_PATTERN), pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)]), 700,
        ["<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>"])
    data = json.loads(llama.to_str())
    data["model"]["ignore_merges"] = True
    llama = with_extra_vocab(Tokenizer.from_str(json.dumps(data)), "Ġzebra")
    bos = llama.token_to_id("<|begin_of_text|>")
    llama.post_processor = processors.Sequence([
        processors.ByteLevel(trim_offsets=False),
        processors.TemplateProcessing(single="<|begin_of_text|> $A", special_tokens=[("<|begin_of_text|>", bos)])])
    tiny["llama3"] = (llama, {"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>"})

    qwen = train_tiny(training_texts, normalizers.NFC(), pre_tokenizers.Sequence([
        split(QWEN2_PATTERN), pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)]), 700,
        ["<|endoftext|>", "<|im_start|>", "<|im_end|>"])
    qwen.post_processor = processors.ByteLevel(trim_offsets=False, add_prefix_space=False)
    # Matched after NFC, so "cafe\u0301" in the text finds it too.
    qwen.add_tokens([AddedToken("café", special=False, normalized=True)])
    tiny["qwen2"] = (qwen, {"add_bos_token": False, "bos_token": None, "eos_token": "<|im_end|>"})
    return tiny


FEATURE_STRINGS = [
    " zebra", "zebra", "a zebra!", "<mask>", "a <mask> b", "a  <mask>  b", "[NOTE] x", "x[NOTE]y", "XYZ", "aXYZ",
    "XYZ b", "(XYZ)", "_XYZ", "cafe\u0301", "café au lait", "CAFÉ", "caféine",
]


def gguf_of(tok, path, pre, add_bos, bos, eos, user_defined=()):
    """A GGUF holding only tokenizer metadata, as llama.cpp's converter writes it."""
    data = json.loads(tok.to_str())
    vocab = data["model"]["vocab"]
    for added in data["added_tokens"]:
        vocab[added["content"]] = added["id"]
    size = max(vocab.values()) + 1
    tokens = [f"[PAD{i}]" for i in range(size)]
    for token, index in vocab.items():
        tokens[index] = token
    specials = {a["content"] for a in data["added_tokens"] if a["special"]}
    types = [3 if t in specials else 4 if t in user_defined else 1 for t in tokens]
    merges = [m if isinstance(m, str) else " ".join(m) for m in data["model"]["merges"]]
    writer = gguf.GGUFWriter(str(path), arch="llama")
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre(pre)
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_merges(merges)
    writer.add_add_bos_token(add_bos)
    if bos is not None:
        writer.add_bos_token_id(bos)
    writer.add_eos_token_id(eos)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def bad_ggufs(folder):
    """Small tokenizer-only GGUF files that each break one rule (for the error tests)."""
    folder.mkdir(exist_ok=True)
    alphabet = sorted(pre_tokenizers.ByteLevel.alphabet())
    tokens = alphabet + ["Ġt", "<|endoftext|>"]
    good = {"model": "gpt2", "pre": "smollm", "tokens": tokens, "types": [1] * (len(tokens) - 1) + [3],
            "merges": ["Ġ t"], "bos": len(tokens) - 1}
    variants = {
        "unknown-pre": {"pre": "falcon"},
        "sentencepiece": {"model": "llama"},
        "no-tokenizer": {"model": None},
        "no-merges": {"merges": None},
        "bad-bos": {"bos": 100000},
        "merge-not-a-pair": {"merges": ["Ġt"]},
        "merge-out-of-vocabulary": {"merges": ["Ġ q"]},
        "type-count": {"types": [1, 1, 3]},
    }
    for name, change in variants.items():
        spec = {**good, **change}
        writer = gguf.GGUFWriter(str(folder / f"{name}.gguf"), arch="llama")
        if spec["model"] is not None:
            writer.add_tokenizer_model(spec["model"])
            writer.add_tokenizer_pre(spec["pre"])
            writer.add_token_list(spec["tokens"])
            writer.add_token_types(spec["types"])
            if spec["merges"] is not None:
                writer.add_token_merges(spec["merges"])
            writer.add_bos_token_id(spec["bos"])
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
        writer.close()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=default_model_path())
    parser.add_argument("--datasets", type=Path, default=ROOT.parent / "shared" / "datasets-public")
    parser.add_argument("--seed", type=int, default=20250601)
    parser.add_argument("--skip-transformers", action="store_true", help="do not compare with transformers' GGUF loader")
    args = parser.parse_args()
    FIXTURES.mkdir(parents=True, exist_ok=True)

    texts = corpus(args.datasets, args.seed)
    reference, info = reference_from_gguf(args.model)
    fixture = {"source": f"{MODEL_FILE}, rebuilt as tokenizers.Tokenizer by reference/make_tokenizer_fixtures.py",
               **info, "cases": expected_cases(reference, texts)}
    if not args.skip_transformers:
        fixture["transformers_gguf_loader"] = compare_with_transformers(args.model, reference, texts)
        print("transformers' GGUF tokenizer differs on", fixture["transformers_gguf_loader"]["differing"], "strings")
    # Single tokens, including bytes that are no UTF-8 on their own.
    ids = list(range(300)) + list(range(300, info["vocab_size"], 97))
    fixture["token_decodes"] = [[i, reference.decode([i], skip_special_tokens=False)] for i in ids]
    write_json(FIXTURES / "smollm2-gguf-expected.json", fixture)
    write_json(FIXTURES / "pretokenizer-splits.json", {"texts": texts, "splits": pre_tokenizer_splits(texts)})
    print(f"smollm2: {len(texts)} strings, {sum(len(c['ids']) for c in fixture['cases'])} tokens")

    bad_ggufs(FIXTURES / "bad-gguf")

    training = [t for t in texts if t] * 2
    subset = list(dict.fromkeys(texts[::3] + UNICODE_ODDITIES + FEATURE_STRINGS))
    for name, (tok, config) in tiny_tokenizers(training).items():
        folder = FIXTURES / f"tiny-{name}"
        folder.mkdir(exist_ok=True)
        tok.save(str(folder / "tokenizer.json"))
        write_json(folder / "tokenizer_config.json", config)
        write_json(folder / "expected.json", {"source": f"tiny-{name}/tokenizer.json", "cases": expected_cases(tok, subset)})

        pre = {"gpt2": "gpt-2", "llama3": "llama-bpe", "qwen2": "qwen2"}[name]
        bos = tok.token_to_id(config["bos_token"]) if config.get("bos_token") else None
        eos = tok.token_to_id(config["eos_token"])
        path = FIXTURES / f"tiny-{name}.gguf"
        user_defined = {"[NOTE]"} if name == "gpt2" else set()
        gguf_of(tok, path, pre, add_bos=name == "llama3", bos=bos, eos=eos, user_defined=user_defined)
        from_gguf, gguf_info = reference_from_gguf(path)
        write_json(FIXTURES / f"tiny-{name}-gguf-expected.json",
                   {"source": path.name, **gguf_info, "cases": expected_cases(from_gguf, subset)})
        print(f"tiny-{name}: {len(subset)} strings")


if __name__ == "__main__":
    main()
