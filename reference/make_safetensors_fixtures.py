#!/usr/bin/env python3
"""safetensors fixtures for ModelFormatsTests, written with torch + safetensors + transformers.

Writes into Tests/ModelFormatsTests/Fixtures/safetensors/:
  single.safetensors   F32, F16 and BF16 tensors (special values included), a 0-d scalar, an empty
                       tensor and an I64 tensor (which opens but does not convert to float32)
  tiny-llama/          a Hugging Face model folder: a random tiny LlamaForCausalLM saved by
                       transformers in bfloat16 as sharded safetensors (model.safetensors.index.json),
                       its config.json, and a tokenizer.json (a small byte-level BPE)
  values.f32           expected float32 values of every float tensor above, little-endian
  manifest.json        per file and tensor: dtype, shape, where its values lie in values.f32,
                       the SHA-256 of those values; per folder: the shard of every tensor

The expected values are torch's own conversion of each stored tensor to float32, read back with
`safetensors.torch.load_file`.

Usage: python3 reference/make_safetensors_fixtures.py [OUT_DIR]
"""
import hashlib
import json
import os
import shutil
import sys

import numpy as np
import torch
from safetensors.torch import load_file, save_file

torch.manual_seed(20250217)


def specials() -> torch.Tensor:
    return torch.tensor([0.0, -0.0, float("inf"), float("-inf"), float("nan"), 1e-42, -6e-8,
                         65504.0, 1.0, -1.5, 3.0e38, 1e-40, 0.33333334, -1234.5])


def single_file(path: str) -> None:
    save_file({
        "f32.matrix": torch.randn(3, 5),
        "f32.scalar": torch.tensor(2.5),
        "f32.empty": torch.zeros(0, 3),
        "f16.cube": torch.cat([specials(), torch.randn(10)]).to(torch.float16).reshape(2, 3, 4),
        "bf16.vector": torch.cat([specials(), torch.randn(6)]).to(torch.bfloat16),
        "i64.positions": torch.arange(4, dtype=torch.int64),
    }, path, metadata={"format": "pt"})  # one key: the header keeps map order, which varies


def tiny_llama(folder: str) -> None:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(vocab_size=96, hidden_size=16, intermediate_size=32, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
                         rope_theta=50000.0, rms_norm_eps=1e-5, tie_word_embeddings=False)
    model = LlamaForCausalLM(config).to(torch.bfloat16)
    model.save_pretrained(folder, max_shard_size="10KB", safe_serialization=True)

    # A fixed byte-level BPE (training is not deterministic across runs): letters, space as "Ġ",
    # and a few merges.
    letters = [chr(c) for c in range(ord("a"), ord("z") + 1)] + ["Ġ"]
    merges = [("Ġ", "m"), ("o", "r"), ("t", "a"), ("Ġm", "or"), ("Ġmor", "ta"), ("Ġmorta", "l")]
    vocab = {token: index for index, token in enumerate(letters + ["".join(m) for m in merges])}
    tokenizer = Tokenizer(models.BPE(vocab=vocab, merges=merges))
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.save(os.path.join(folder, "tokenizer.json"))


def describe(path: str, values_out: list) -> dict:
    tensors = {}
    with open(path, "rb") as f:
        header_length = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(header_length))
    for name, tensor in load_file(path).items():
        entry = {"dtype": header[name]["dtype"], "shape": list(tensor.shape)}
        if tensor.is_floating_point():
            values = tensor.to(torch.float32).numpy().astype("<f4").reshape(-1)
            entry["values_at"] = sum(v.size for v in values_out)
            entry["sha256"] = hashlib.sha256(values.tobytes()).hexdigest()
            values_out.append(values)
        tensors[name] = entry
    return tensors


def main() -> None:
    out = sys.argv[1] if len(sys.argv) > 1 else "Tests/ModelFormatsTests/Fixtures/safetensors"
    if os.path.isdir(out):
        shutil.rmtree(out)
    os.makedirs(out)
    values: list = []
    manifest = {"values_file": "values.f32"}

    single = os.path.join(out, "single.safetensors")
    single_file(single)
    manifest["single.safetensors"] = {"metadata": {"format": "pt"},
                                      "tensors": describe(single, values)}

    folder = os.path.join(out, "tiny-llama")
    tiny_llama(folder)
    with open(os.path.join(folder, "model.safetensors.index.json")) as f:
        weight_map = json.load(f)["weight_map"]
    tensors = {}
    for shard in sorted(set(weight_map.values())):
        for name, entry in describe(os.path.join(folder, shard), values).items():
            tensors[name] = dict(entry, shard=shard)
    manifest["tiny-llama"] = {"tensors": tensors}

    np.concatenate(values).astype("<f4").tofile(os.path.join(out, "values.f32"))
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1)
        f.write("\n")
    for root, _, names in sorted(os.walk(out)):
        for name in sorted(names):
            print(os.path.join(root, name), os.path.getsize(os.path.join(root, name)))


if __name__ == "__main__":
    main()
