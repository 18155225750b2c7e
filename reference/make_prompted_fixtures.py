#!/usr/bin/env python3
"""Reference QK-scores of few-shot and chat prompts on the default model, with transformers.

The prompts are built here independently of qkprobe: each demonstration is a sample's prompt
followed by its right option (" True"), demonstrations are joined by blank lines and put before
the sample's prompt; with chat, that text is the user's message of the model's own chat template
(transformers' apply_chat_template(..., add_generation_prompt=True)), tokenized without special
tokens added. The anchor is the paper's (before-cue): the last token that ends at or before the
final "Answer:". Scores as reference/make_probe_fixtures.py (one full pass per option).

The demonstrations are named per case (qkprobe's own draw is tested separately), so the Swift
test builds the same prompt from the same ids and compares tokens, anchor and scores.

Usage: python3 reference/make_prompted_fixtures.py [GGUF] [OUT.json]
"""
import json
import os
import sys

import torch
import transformers

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_probe_fixtures import DEFAULT_GGUF, ROOT, PaperWayScorer  # noqa: E402

SAMPLES = os.path.join(ROOT, "Tests/ProbeTests/Fixtures/probe-samples.jsonl")
CASES = [
    # (sample id, demonstration ids, chat)
    ("pararule-NonNegationRule-D2-15541", ["prontoqa-ProntoQA_1", "pararule-NonNegationRule-D2-15542"], False),
    ("prontoqa-ProntoQA_3", [], True),
    ("prontoqa-ProntoQA_2", ["prontoqa-ProntoQA_1", "pararule-NonNegationRule-D2-15542"], True),
    ("multilogieval-d2-pl-BD_DS-1", ["multilogieval-d2-pl-BD_DS-2"], True),
]


def main():
    gguf = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_GGUF
    out = sys.argv[2] if len(sys.argv) > 2 else os.path.join(ROOT, "Tests/ProbeTests/Fixtures/prompted-reference.json")
    samples = {s["id"]: s for s in (json.loads(line) for line in open(SAMPLES, encoding="utf-8") if line.strip())}
    torch.manual_seed(0)
    scorer = PaperWayScorer(gguf)
    records = []
    for sample_id, shot_ids, chat in CASES:
        sample = samples[sample_id]
        text = "".join(samples[i]["prompt"] + samples[i]["options"][samples[i]["label"]] + "\n\n" for i in shot_ids)
        text += sample["prompt"]
        if chat:
            text = scorer.tokenizer.apply_chat_template([{"role": "user", "content": text}],
                                                        add_generation_prompt=True, tokenize=False)
        record = scorer.score(text, sample["options"], add_special_tokens=not chat)
        records.append({"id": sample_id, "shots": shot_ids, "chat": chat, "text": text, **record})
        print(sample_id, "chat" if chat else "plain", len(shot_ids), "shots:", len(record["token_ids"]), "tokens, anchor",
              record["anchor"], repr(scorer.tokenizer.decode(record["token_ids"][record["anchor"]])), file=sys.stderr)
    with open(out, "w", encoding="utf-8") as f:
        json.dump({"made_by": "reference/make_prompted_fixtures.py", "transformers": transformers.__version__,
                   "torch": torch.__version__, "model_file": os.path.basename(gguf), "layers": scorer.L,
                   "heads": scorer.H, "samples": records}, f)
        f.write("\n")


if __name__ == "__main__":
    main()
