#!/usr/bin/env python3
"""Reference values for reading the default model (SmolLM2-135M-Instruct Q4_1 GGUF) with gguf-py.

The header: version, counts, alignment, data section offset, a few metadata values, and every
tensor's name, ggml type, PyTorch-order shape and data offset. For each tensor in TENSORS: its ggml type, PyTorch-order shape, the first 256 float32 values, the sum and
sum of squares of all values (float64), and the SHA-256 of all float32 values as little-endian bytes,
all from gguf-py's own reader and `gguf.quants.dequantize`.

Usage: python3 reference/gguf_default_model_fixture.py [MODEL.gguf] [OUT.json]
"""
import hashlib
import json
import os
import sys

import numpy as np
from gguf import GGUFReader
from gguf.quants import dequantize

TENSORS = [
    "token_embd.weight",       # Q8_0
    "blk.0.attn_q.weight",     # Q4_1
    "blk.0.attn_k.weight",     # Q4_1
    "blk.29.ffn_down.weight",  # Q4_1
    "blk.0.attn_norm.weight",  # F32
    "output_norm.weight",      # F32
]

METADATA = [
    "general.architecture", "general.name", "llama.block_count", "llama.context_length",
    "llama.rope.freq_base", "llama.attention.layer_norm_rms_epsilon", "tokenizer.ggml.model",
    "tokenizer.ggml.pre", "tokenizer.ggml.add_bos_token", "tokenizer.ggml.bos_token_id",
    "general.languages",
]


def main() -> None:
    default_model = os.path.expanduser("~/.cache/qkprobe/models/SmolLM2-135M-Instruct.Q4_1.gguf")
    model = sys.argv[1] if len(sys.argv) > 1 else default_model
    out = sys.argv[2] if len(sys.argv) > 2 else "Tests/ModelFormatsTests/Fixtures/default_model_tensors.json"
    reader = GGUFReader(model)
    by_name = {t.name: t for t in reader.tensors}
    entries = []
    for name in TENSORS:
        t = by_name[name]
        values = dequantize(t.data, t.tensor_type).astype(np.float32, copy=False)
        shape = [int(d) for d in reversed(t.shape.tolist())]  # ggml is innermost-first
        assert list(values.shape) == shape, (name, values.shape, shape)
        flat = np.ascontiguousarray(values).reshape(-1)
        wide = flat.astype(np.float64)
        entries.append({
            "name": name,
            "type": t.tensor_type.name,
            "shape": shape,
            "first": [float(v) for v in flat[:256]],
            "sum": float(wide.sum()),
            "sum_of_squares": float((wide * wide).sum()),
            "sha256": hashlib.sha256(flat.astype("<f4").tobytes()).hexdigest(),
        })
    def field(key):
        return reader.fields[key].contents()

    header = {
        "version": int(field("GGUF.version")),
        "tensor_count": int(field("GGUF.tensor_count")),
        "kv_count": int(field("GGUF.kv_count")),
        "alignment": int(reader.alignment),
        "data_offset": int(reader.data_offset),
        "metadata": {key: field(key) for key in METADATA},
        "token_count": len(field("tokenizer.ggml.tokens")),
        "first_tokens": field("tokenizer.ggml.tokens")[:8],
        "first_token_types": [int(v) for v in field("tokenizer.ggml.token_type")[:8]],
        "merge_count": len(field("tokenizer.ggml.merges")),
        "first_merges": field("tokenizer.ggml.merges")[:8],
        "tensor_infos": [
            {"name": t.name, "type": t.tensor_type.name,
             "shape": [int(d) for d in reversed(t.shape.tolist())],
             "offset": int(t.data_offset) - int(reader.data_offset)}
            for t in reader.tensors
        ],
    }
    with open(out, "w") as f:
        json.dump({"model": os.path.basename(model), "header": header, "tensors": entries}, f, indent=None)
        f.write("\n")
    print(f"wrote {out}: {len(entries)} tensors")


if __name__ == "__main__":
    main()
