#!/usr/bin/env python3
"""The paper's way of probing, timed: transformers float32 on the CPU, one full forward pass per
answer option, hooks on the projections (reference/make_probe_fixtures.py's PaperWayScorer).

Prints seconds per sample over the first N samples of a prompt JSON Lines file, after loading,
for comparison with `qkprobe probe` on the same samples.

Usage: python3 reference/bench_transformers_probe.py DATASET.jsonl [N] [THREADS]
"""
import json
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_probe_fixtures import DEFAULT_GGUF, PaperWayScorer  # noqa: E402


def main():
    dataset = sys.argv[1]
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 50
    torch.set_num_threads(int(sys.argv[3]) if len(sys.argv) > 3 else os.cpu_count())
    samples = [json.loads(line) for line in open(dataset, encoding="utf-8") if line.strip()][:count]
    scorer = PaperWayScorer(DEFAULT_GGUF)
    scorer.score(samples[0]["prompt"], samples[0]["options"])  # warm-up
    start = time.perf_counter()
    tokens = 0
    for sample in samples:
        tokens += len(scorer.score(sample["prompt"], sample["options"])["token_ids"])
    seconds = time.perf_counter() - start
    print(json.dumps({"samples": len(samples), "seconds": seconds, "seconds_per_sample": seconds / len(samples),
                      "mean_prompt_tokens": tokens / len(samples), "threads": torch.get_num_threads()}))


if __name__ == "__main__":
    main()
