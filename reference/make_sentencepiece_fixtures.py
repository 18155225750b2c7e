#!/usr/bin/env python3
"""Reference fixtures for SentencePiece-style BPE (Llama 2, Mistral) in TokenizersTests.

Writes into Tests/TokenizersTests/Fixtures/:

  tiny-spm-llama2/   tokenizer.json in the Llama 2 style: BPE with byte_fallback, normalizer
                     Sequence[Prepend("▁"), Replace(" ", "▁")], no pre-tokenizer, BOS by TemplateProcessing;
                     tokenizer_config.json; expected.json (ids, byte offsets, decodings from `tokenizers`)
  tiny-spm-mistral/  the same vocabulary in the newer style: no normalizer, pre-tokenizer
                     Metaspace("▁", prepend_scheme "first", split false); expected.json
  tiny-spm-split/    the same with Metaspace(prepend_scheme "always", split true); expected.json
  tiny-spm.gguf      the vocabulary as a tokenizer-only GGUF (tokenizer.ggml.model "llama": tokens, scores,
                     token types, no merges)
  tiny-spm-gguf-expected.json   what transformers' GGUF loader, AutoTokenizer.from_pretrained(dir,
                     gguf_file=...), makes of that file; it derives merges from the scores
  bad-gguf/spm-*.gguf           SentencePiece GGUF files that each break one rule

Deterministic (fixed strings, a seeded generator). Run from anywhere:

    python3 reference/make_sentencepiece_fixtures.py [--datasets DIR]
"""

import argparse
import json
import random
import shutil
import tempfile
from pathlib import Path

import gguf
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

from make_tokenizer_fixtures import FIXED_STRINGS, FIXTURES, ROOT, byte_offsets, dataset_strings, expected_cases, write_json

SPECIALS = ["<unk>", "<s>", "</s>"]
BYTE_TOKENS = [f"<0x{byte:02X}>" for byte in range(256)]

# What SentencePiece does differently from byte-level BPE: the prefix "▁", spaces at the ends and in
# runs, characters outside the vocabulary (byte fallback), and its own special tokens in the text.
SPM_STRINGS = [
    "", " ", "  ", "   ", "▁", "▁▁", " ▁", "a▁b", "▁hello", "hello ", " hello", "  hello", "hello  world",
    "hello\tworld", "hello\nworld", "\nhello", "hello\n", " \n ", "\t", "\r\n",
    "<s>", "</s>", "<unk>", "<s>hello", "<s> hello", "hello<s>", "hello </s>", "a<unk>b", "<s><s>", "</s> <s> x",
    "<0x41>", "<0xE4>", "< s>", "<s", "s>",
    "Привет", "привет мир", "中", "中文", "你好，世界！", "😀", " 😀", "😀 ", "a😀b", "👨‍👩‍👧‍👦", "é", "e\u0301", "ß",
    "\x00", "\x7f", "\u00a0", "\u3000", "\ufeff", "a\u200bb", "1 2 3", "0.5", "100%", "$100", "3,14",
]


def fuzz_strings(count, seed):
    pools = ["the", "cat", "is", "True", "A", "1", "42", " ", "  ", "\t", "\n", ".", ",", "?", "'", "Ж", "ты",
             "中", "😀", "é", "▁", "<s>", "</s>", "<unk>", "\u00a0"]
    rng = random.Random(seed)
    return ["".join(rng.choice(pools) for _ in range(rng.randint(1, 16))) for _ in range(count)]


def train(texts):
    """A tiny SentencePiece-style BPE: merges learned within ▁-prefixed words, as SentencePiece learns them."""
    tok = Tokenizer(models.BPE(byte_fallback=True, unk_token="<unk>", fuse_unk=True))
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    # No limit_alphabet: it breaks ties between equally frequent characters in hash order.
    trainer = trainers.BpeTrainer(vocab_size=480, special_tokens=SPECIALS + BYTE_TOKENS,
                                  show_progress=False)
    tok.train_from_iterator(texts, trainer)
    data = json.loads(tok.to_str())
    # Byte tokens live in the vocabulary only, as in Llama 2's tokenizer.json; the specials stay added tokens.
    data["added_tokens"] = [a for a in data["added_tokens"] if a["content"] in SPECIALS]
    data["pre_tokenizer"] = None
    data["normalizer"] = None
    data["decoder"] = json.loads(decoders.Sequence([
        decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(), decoders.Strip(" ", 1, 0)]).__getstate__())
    bos = data["model"]["vocab"]["<s>"]
    data["post_processor"] = json.loads(processors.TemplateProcessing(
        single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", bos)]).__getstate__())
    return data


def styled(data, style):
    data = json.loads(json.dumps(data))
    if style == "llama2":
        data["normalizer"] = json.loads(normalizers.Sequence([
            normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")]).__getstate__())
    else:
        scheme, split = {"mistral": ("first", False), "split": ("always", True)}[style]
        data["pre_tokenizer"] = json.loads(
            pre_tokenizers.Metaspace(replacement="▁", prepend_scheme=scheme, split=split).__getstate__())
    return Tokenizer.from_str(json.dumps(data))


def gguf_tokens(tok):
    """Tokens, scores and types as llama.cpp's converter writes a SentencePiece vocabulary: control
    and byte tokens score 0, the others by rank (a piece learned earlier scores higher)."""
    vocab = tok.get_vocab(with_added_tokens=True)
    tokens = [None] * (max(vocab.values()) + 1)
    for token, index in vocab.items():
        tokens[index] = token
    types = [2 if t == "<unk>" else 3 if t in SPECIALS else 6 if t in BYTE_TOKENS else 1 for t in tokens]
    scores = [0.0 if kind != 1 else -float(index) for index, kind in enumerate(types)]
    return tokens, scores, types


def write_gguf(path, tokens, scores, types, ids, add_bos=True):
    writer = gguf.GGUFWriter(str(path), arch="llama")
    writer.add_tokenizer_model("llama")
    writer.add_tokenizer_pre("default")
    writer.add_token_list(tokens)
    if scores is not None:
        writer.add_token_scores(scores)
    writer.add_token_types(types)
    for key, value in ids.items():
        getattr(writer, f"add_{key}_token_id")(value)
    writer.add_add_bos_token(add_bos)
    writer.add_add_eos_token(False)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def transformers_cases(hf, texts):
    cases = []
    for text in texts:
        with_special = hf(text, add_special_tokens=True, return_offsets_mapping=True)
        without_special = hf(text, add_special_tokens=False, return_offsets_mapping=True)
        ids = with_special["input_ids"]
        case = {"text": text, "ids": ids, "offsets": byte_offsets(text, with_special["offset_mapping"])}
        if without_special["input_ids"] != ids:
            case["ids_without_special"] = without_special["input_ids"]
            case["offsets_without_special"] = byte_offsets(text, without_special["offset_mapping"])
        case["decoded"] = hf.decode(ids, skip_special_tokens=False)
        case["decoded_skipping_special"] = hf.decode(ids, skip_special_tokens=True)
        cases.append(case)
    return cases


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", type=Path, default=ROOT.parent / "shared" / "datasets-public")
    parser.add_argument("--seed", type=int, default=20251122)
    args = parser.parse_args()

    english = dataset_strings(args.datasets)
    russian = ["Привет, мир! Как дела?", "Если кошка чёрная, то она спит. Кошка чёрная. Спит ли кошка?"]
    data = train(english + russian * 3)
    texts = list(dict.fromkeys(SPM_STRINGS + FIXED_STRINGS + english[:20] + fuzz_strings(60, args.seed)))
    config = {"add_bos_token": True, "add_eos_token": False, "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"}

    for style in ("llama2", "mistral", "split"):
        tok = styled(data, style)
        folder = FIXTURES / f"tiny-spm-{style}"
        folder.mkdir(exist_ok=True)
        tok.save(str(folder / "tokenizer.json"))
        write_json(folder / "tokenizer_config.json", config)
        write_json(folder / "expected.json", {"source": f"tiny-spm-{style}/tokenizer.json", "kind": "bpe/sentencepiece",
                                              "cases": expected_cases(tok, texts)})
        print(f"tiny-spm-{style}: {len(texts)} strings, vocabulary {tok.get_vocab_size()}")

    tokens, scores, types = gguf_tokens(styled(data, "llama2"))
    ids = {"bos": tokens.index("<s>"), "eos": tokens.index("</s>"), "unk": tokens.index("<unk>")}
    path = FIXTURES / "tiny-spm.gguf"
    write_gguf(path, tokens, scores, types, ids)
    from transformers import AutoTokenizer
    with tempfile.TemporaryDirectory() as scratch:
        shutil.copy(path, scratch)
        hf = AutoTokenizer.from_pretrained(scratch, gguf_file=path.name)
        (Path(scratch) / "out").mkdir()
        hf.backend_tokenizer.save(str(Path(scratch) / "out" / "tokenizer.json"))
        converted = json.loads((Path(scratch) / "out" / "tokenizer.json").read_text())
    pipeline = {key: converted[key] for key in ("normalizer", "pre_tokenizer", "post_processor", "decoder")}
    pipeline["model_options"] = {k: v for k, v in converted["model"].items() if k not in ("vocab", "merges")}
    write_json(FIXTURES / "tiny-spm-gguf-expected.json", {
        "source": f"{path.name}, through transformers' AutoTokenizer.from_pretrained(dir, gguf_file=...)",
        "transformers_pipeline": pipeline, "kind": "bpe/sentencepiece", **{f"{k}_token_id": v for k, v in ids.items() if k != "unk"},
        "vocab_size": len(tokens), "adds_bos_token": True,
        "transformers_merges": [m if isinstance(m, str) else " ".join(m) for m in converted["model"]["merges"]],
        "cases": transformers_cases(hf, texts)})
    print(f"tiny-spm.gguf: {len(texts)} strings; transformers' pipeline {json.dumps(pipeline)}")

    bad = FIXTURES / "bad-gguf"
    write_gguf(bad / "spm-no-scores.gguf", tokens, None, types, ids)
    without_bytes = [i for i, t in enumerate(tokens) if t != "<0x41>"]
    write_gguf(bad / "spm-no-byte-tokens.gguf", [tokens[i] for i in without_bytes], [scores[i] for i in without_bytes],
               [types[i] for i in without_bytes], {"bos": 1, "eos": 2, "unk": 0})
    write_gguf(bad / "spm-score-count.gguf", tokens, scores[:10], types, ids)


if __name__ == "__main__":
    main()
