#!/usr/bin/env python3
"""Reference QK-scores of the MCQA geometry (Tulchinskii et al. 2024, arXiv 2410.02343).

For a question with lettered options, the prompt is "{question}\\nA. {choice}\\nB. ...\\nAnswer:".
One forward pass; q at the last token ("Answer:"'s ':'), k at each option's own line: the token
holding the newline that ends the line (eol), the letter, or the period after it. Here the places
are tracked while the prompt is built (qkprobe finds them by searching the text). Scores are
unscaled, before rotary: S(l, h, a) = q(l, h)[last] . k(l, h // (H / Hkv))[key of option a];
the model's own answer is the letter token (" A", " B", ...) with the highest logit at the last
position.

Usage: python3 reference/make_mcqa_fixtures.py [GGUF] [SAMPLES.jsonl] [OUT.json]
"""
import json
import os
import sys

import torch
import transformers

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_probe_fixtures import DEFAULT_GGUF, ROOT, PaperWayScorer  # noqa: E402

LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def build(question, choices):
    """The prompt and, per option, the character positions of its letter, period and line end."""
    text, places = question, []
    for index, choice in enumerate(choices):
        start = len(text)  # the "\n" that starts this option's line
        text += f"\n{LETTERS[index]}. {choice}"
        places.append({"letter": start + 1, "period": start + 2})
    for index in range(len(choices)):
        end = len(text) if index == len(choices) - 1 else None
        places[index]["eol"] = end  # filled below
    text += "\nAnswer:"
    # The line of option i ends at the "\n" that starts option i+1's line (or the cue's).
    starts = [p["letter"] - 1 for p in places] + [text.rfind("\nAnswer:")]
    for index in range(len(choices)):
        places[index]["eol"] = starts[index + 1]
    return text, places


def token_at(offsets, position):
    return max(i for i, (a, b) in enumerate(offsets) if b > a and a <= position)


def main():
    gguf = sys.argv[1] if len(sys.argv) > 1 else DEFAULT_GGUF
    samples = sys.argv[2] if len(sys.argv) > 2 else os.path.join(ROOT, "Tests/ProbeTests/Fixtures/mcqa-samples.jsonl")
    out = sys.argv[3] if len(sys.argv) > 3 else os.path.join(ROOT, "Tests/ProbeTests/Fixtures/mcqa-reference.json")
    torch.manual_seed(0)
    scorer = PaperWayScorer(gguf)
    L, H, Hkv, Dh = scorer.L, scorer.H, scorer.Hkv, scorer.Dh
    records = []
    for line in open(samples, encoding="utf-8"):
        if not line.strip():
            continue
        sample = json.loads(line)
        text, places = build(sample["question"], sample["choices"])
        encoding = scorer.tokenizer(text, add_special_tokens=True, return_offsets_mapping=True)
        ids, offsets = encoding["input_ids"], encoding["offset_mapping"]
        option_ids = []
        for index in range(len(sample["choices"])):
            tokens = scorer.tokenizer(" " + LETTERS[index], add_special_tokens=False)["input_ids"]
            assert len(tokens) == 1, tokens
            option_ids.append(tokens[0])
        scorer.captured.clear()
        scorer.rotated.clear()
        with torch.no_grad():
            logits = scorer.model(torch.tensor([ids])).logits[0]
        last = len(ids) - 1
        record = {"id": sample["id"], "token_ids": ids, "query": last, "option_ids": option_ids,
                  "option_logits": [float(logits[last, t]) for t in option_ids]}
        for key in ("eol", "letter", "period"):
            positions = [token_at(offsets, p[key]) for p in places]
            qk = []
            for position in positions:
                qk.append([[float(scorer.captured[("q", l)][last].view(H, Dh)[h]
                                  @ scorer.captured[("k", l)][position].view(Hkv, Dh)[h // (H // Hkv)])
                            for h in range(H)] for l in range(L)])
            record[f"keys_{key}"] = positions
            record[f"qk_{key}"] = qk
        records.append(record)
        print(sample["id"], len(ids), "tokens, eol keys", record["keys_eol"],
              [scorer.tokenizer.decode([ids[p]]) for p in record["keys_eol"]], file=sys.stderr)
    with open(out, "w", encoding="utf-8") as f:
        json.dump({"made_by": "reference/make_mcqa_fixtures.py", "transformers": transformers.__version__,
                   "torch": torch.__version__, "model_file": os.path.basename(gguf), "layers": L, "heads": H,
                   "samples": records}, f)
        f.write("\n")


if __name__ == "__main__":
    main()
