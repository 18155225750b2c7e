#!/usr/bin/env python3
"""Small GGUF fixture files for ModelFormatsTests, with expected values from gguf-py.

Writes into Tests/ModelFormatsTests/Fixtures/gguf/:
  quants.gguf          one or more tensors of every type the Swift reader dequantises, and one
                       metadata value of every GGUF value type (nested arrays included)
  quants.f32           the expected float32 values of every tensor, concatenated, little-endian
  aligned64_v2.gguf    GGUF version 2 with general.alignment = 64 (same layout rules otherwise)
  manifest.json        per file: version, alignment, data offset, metadata (type and value),
                       per tensor: name, ggml type, PyTorch-order shape, data offset, and where its
                       expected values lie in the .f32 file (or their SHA-256 for big tensors)

and into Tests/TransformerTests/Fixtures/gguf-configs/ (read by the model families, Transformer):
  arch-*.gguf          hyper-parameters of each supported architecture, written with GGUFWriter's
                       own add_* methods (so gguf-py decides the key names)
  expected.json        the ModelConfig qkprobe should read from each

Types gguf-py can quantise (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, BF16) are quantised from seeded random
floats; for the K-quants (Q4_K, Q5_K, Q6_K), which gguf-py cannot quantise, the blocks are random
bytes with finite f16 scales. Either way the expected values are gguf-py's own dequantisation
(`gguf.quants.dequantize`) of the tensor bytes as `GGUFReader` reads them back from the file.

Usage: python3 reference/make_gguf_fixtures.py [OUT_DIR]
"""
import hashlib
import json
import os
import struct
import sys

import numpy as np
from gguf import GGMLQuantizationType as T
from gguf import GGUFReader, GGUFValueType as V, GGUFWriter
from gguf.constants import GGML_QUANT_SIZES
from gguf.quants import dequantize, quantize

RNG = np.random.default_rng(20250217)

# Tensors at or above this many elements are checked through a SHA-256 of their values instead of
# stored values, to keep the fixture small; they exist to cross the reader's multi-thread chunking.
HASH_ONLY_ELEMENTS = 50_000


def f16_bits(values) -> np.ndarray:
    return np.asarray(values, dtype=np.float32).astype(np.float16).view(np.uint8).reshape(-1, 2)


def random_k_blocks(qtype: T, n_blocks: int) -> np.ndarray:
    """Random block bytes with finite f16 scales (including a zero, a negative and a subnormal)."""
    _, type_size = GGML_QUANT_SIZES[qtype]
    blocks = RNG.integers(0, 256, size=(n_blocks, type_size), dtype=np.uint8)
    scales = RNG.normal(0, 0.02, size=(n_blocks, 2)).astype(np.float32)
    scales[0, 0] = 0.0
    scales[min(1, n_blocks - 1), 1] = -0.03125
    scales[-1, 0] = 3e-7  # an f16 subnormal
    if qtype in (T.Q4_K, T.Q5_K):  # d and dmin lead the block
        blocks[:, 0:2] = f16_bits(scales[:, 0])
        blocks[:, 2:4] = f16_bits(scales[:, 1])
    elif qtype == T.Q6_K:  # d ends the block
        blocks[:, -2:] = f16_bits(scales[:, 0])
    else:
        raise ValueError(qtype)
    return blocks


def special_floats() -> np.ndarray:
    return np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 1e-42, -6e-8, 65504.0, 1.0, -1.5,
                     3.0e38, 1e-40, 5.9e-8, 0.33333334, -1234.5, 7.0], dtype=np.float32)


def quantised(shape, qtype: T, scale=1.0) -> np.ndarray:
    data = (RNG.standard_normal(size=shape) * scale).astype(np.float32)
    data.reshape(-1)[:8] = [0, 0, 0, 0, 1, -1, 2, -2]  # exact edges inside one block
    return quantize(data, qtype)


def k_quant(shape, qtype: T) -> np.ndarray:
    block_size, type_size = GGML_QUANT_SIZES[qtype]
    *outer, inner = shape
    n_blocks = int(np.prod(shape)) // block_size
    return random_k_blocks(qtype, n_blocks).reshape(*outer, inner // block_size * type_size)


def quant_tensors():
    """(name, bytes or float array, raw ggml type or None). Shapes here are PyTorch order."""
    with np.errstate(over="ignore"):  # 3e38 becomes inf in f16, on purpose
        f16 = np.concatenate([special_floats(), RNG.standard_normal(80).astype(np.float32)]).astype(np.float16).reshape(2, 48)
    bf16_source = np.concatenate([special_floats(), RNG.standard_normal(48).astype(np.float32)])
    return [
        ("f32.matrix", RNG.standard_normal((3, 40)).astype(np.float32), None),
        ("f32.specials", special_floats(), None),
        ("f16.matrix", f16, None),
        ("bf16.vector", quantize(bf16_source, T.BF16), T.BF16),
        ("q4_0.cube", quantised((2, 3, 64), T.Q4_0), T.Q4_0),
        ("q4_1.matrix", quantised((4, 64), T.Q4_1, 0.1), T.Q4_1),
        ("q5_0.matrix", quantised((3, 64), T.Q5_0), T.Q5_0),
        ("q5_1.matrix", quantised((3, 64), T.Q5_1, 0.05), T.Q5_1),
        ("q8_0.matrix", quantised((5, 64), T.Q8_0), T.Q8_0),
        ("q8_0.vector", quantised((32,), T.Q8_0, 3.0), T.Q8_0),
        ("q4_k.matrix", k_quant((3, 512), T.Q4_K), T.Q4_K),
        ("q5_k.matrix", k_quant((2, 512), T.Q5_K), T.Q5_K),
        ("q6_k.matrix", k_quant((3, 512), T.Q6_K), T.Q6_K),
        ("q6_k.vector", k_quant((256,), T.Q6_K), T.Q6_K),
        ("q4_k.big", k_quant((2, 256 * 150), T.Q4_K), T.Q4_K),
        ("q6_k.big", k_quant((1, 256 * 300), T.Q6_K), T.Q6_K),
    ]


# (key, GGUF value type, value, array element type): one of every value type.
METADATA = [
    ("test.uint8", V.UINT8, 200, None),
    ("test.int8", V.INT8, -100, None),
    ("test.uint16", V.UINT16, 60000, None),
    ("test.int16", V.INT16, -30000, None),
    ("test.uint32", V.UINT32, 4_000_000_000, None),
    ("test.int32", V.INT32, -2_000_000_000, None),
    ("test.uint64", V.UINT64, 18_000_000_000_000_000_000, None),
    ("test.int64", V.INT64, -9_000_000_000_000_000_000, None),
    ("test.float32", V.FLOAT32, float(np.float32(0.1)), None),
    ("test.float64", V.FLOAT64, 2.718281828459045, None),
    ("test.bool.true", V.BOOL, True, None),
    ("test.bool.false", V.BOOL, False, None),
    ("test.string", V.STRING, "héllo, мир, 世界 🙂", None),
    ("test.string.empty", V.STRING, "", None),
    ("test.array.uint16", V.ARRAY, [0, 1, 65535], V.UINT16),
    ("test.array.int32", V.ARRAY, [-1, 0, 7], V.INT32),
    ("test.array.float32", V.ARRAY, [0.5, -1.25, 3.0], V.FLOAT32),
    ("test.array.string", V.ARRAY, ["a", "", "Ġt he"], V.STRING),
    ("test.array.bool", V.ARRAY, [True, False], V.BOOL),
    ("test.array.nested", V.ARRAY, [[1, 2], [3], [4, 5, 6]], V.ARRAY),
    ("test.array.nested.strings", V.ARRAY, [["x"], ["y", "z"]], V.ARRAY),
]


def expected_value(vtype: V, value, sub_type):
    if vtype in (V.UINT64, V.INT64):  # beyond what JSON numbers carry exactly everywhere
        return {"type": vtype.name.lower(), "value": str(value)}
    if vtype != V.ARRAY:
        return {"type": vtype.name.lower(), "value": value}
    if sub_type == V.ARRAY:
        inner = V.STRING if isinstance(value[0][0], str) else V.INT32
        return {"type": "array", "element_type": "array",
                "value": [expected_value(V.ARRAY, v, inner) for v in value]}
    return {"type": "array", "element_type": sub_type.name.lower(),
            "value": [expected_value(sub_type, v, None) for v in value]}


def write(path: str, tensors, metadata, alignment=None) -> None:
    writer = GGUFWriter(path, arch="test")
    if alignment is not None:
        writer.add_custom_alignment(alignment)
    for key, vtype, value, sub_type in metadata:
        writer.add_key_value(key, value, vtype, sub_type=sub_type)
    for name, data, raw_type in tensors:
        writer.add_tensor(name, data, raw_dtype=raw_type)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def describe(path: str, values_out, metadata):
    """Reads `path` back with gguf-py and describes it; appends small tensors' values to values_out."""
    reader = GGUFReader(path)
    tensors = []
    for t in reader.tensors:
        values = np.ascontiguousarray(dequantize(t.data, t.tensor_type), dtype=np.float32).reshape(-1)
        entry = {
            "name": t.name,
            "type": t.tensor_type.name,
            "shape": [int(d) for d in reversed(t.shape.tolist())],
            "offset": int(t.data_offset) - int(reader.data_offset),
            "sha256": hashlib.sha256(values.astype("<f4").tobytes()).hexdigest(),
        }
        if values_out is not None and values.size < HASH_ONLY_ELEMENTS:
            entry["values_at"] = sum(v.size for v in values_out)
            values_out.append(values)
        entry["count"] = int(values.size)
        tensors.append(entry)
    return {
        "version": int(reader.fields["GGUF.version"].contents()),
        "alignment": int(reader.alignment),
        "data_offset": int(reader.data_offset),
        "metadata": {key: expected_value(vtype, value, sub_type) for key, vtype, value, sub_type in metadata},
        "tensors": tensors,
    }


# Per architecture: GGUFWriter calls and the ModelConfig they mean. Vocabulary = token embedding rows
# (qwen2 pads it past the token list), tied = no output.weight, q/k/v biases = a q or qkv bias tensor.
ARCHITECTURES = {
    "llama": dict(blocks=2, context=64, width=16, ff=40, heads=4, kv_heads=2, key_length=None,
                  rope=50000.0, eps=1e-5, tokens=40, rows=40, output=True, bias=None),
    "qwen2": dict(blocks=1, context=128, width=16, ff=24, heads=4, kv_heads=4, key_length=None,
                  rope=1e6, eps=1e-6, tokens=30, rows=48, output=False, bias="blk.0.attn_q.bias"),
    "qwen3": dict(blocks=1, context=128, width=16, ff=24, heads=2, kv_heads=1, key_length=12,
                  rope=1e6, eps=1e-6, tokens=30, rows=30, output=False, bias=None),
    "gpt2": dict(blocks=1, context=32, width=16, ff=64, heads=4, kv_heads=None, key_length=None,
                 rope=None, eps=1e-5, tokens=40, rows=40, output=True, bias="blk.0.attn_qkv.bias"),
    # Seven layers: llama.cpp's Gemma 3 layout makes every sixth global, the others windowed.
    "gemma3": dict(blocks=7, context=128, width=16, ff=24, heads=2, kv_heads=1, key_length=8,
                   rope=1e6, eps=1e-6, tokens=30, rows=30, output=False, bias=None, window=16),
}


def write_architecture(path: str, arch: str, p: dict) -> dict:
    writer = GGUFWriter(path, arch=arch)
    writer.add_name(f"arch-{arch}")
    writer.add_block_count(p["blocks"])
    writer.add_context_length(p["context"])
    writer.add_embedding_length(p["width"])
    writer.add_feed_forward_length(p["ff"])
    writer.add_head_count(p["heads"])
    if p["kv_heads"] is not None:
        writer.add_head_count_kv(p["kv_heads"])
    if p["key_length"] is not None:
        writer.add_key_length(p["key_length"])
    if p["rope"] is not None:
        writer.add_rope_freq_base(p["rope"])
    if p.get("window"):
        writer.add_sliding_window(p["window"])
    if arch == "gpt2":
        writer.add_layer_norm_eps(p["eps"])
    else:
        writer.add_layer_norm_rms_eps(p["eps"])
    writer.add_tokenizer_model("gpt2")
    writer.add_token_list([f"t{i}" for i in range(p["tokens"])])
    writer.add_tensor("token_embd.weight", RNG.standard_normal((p["rows"], p["width"])).astype(np.float32))
    if p["output"]:
        writer.add_tensor("output.weight", RNG.standard_normal((p["rows"], p["width"])).astype(np.float32))
    if p["bias"]:
        writer.add_tensor(p["bias"], RNG.standard_normal(p["width"]).astype(np.float32))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    heads = p["heads"]
    expected = {
        "architecture": arch, "name": f"arch-{arch}", "nLayers": p["blocks"], "dModel": p["width"],
        "nHeads": heads, "nKVHeads": p["kv_heads"] or heads, "dHead": p["key_length"] or p["width"] // heads,
        "dFF": p["ff"], "vocabSize": p["rows"], "contextLength": p["context"],
        "normEps": float(np.float32(p["eps"])), "ropeTheta": 0.0 if arch == "gpt2" else (p["rope"] or 10000.0),
        "tieWordEmbeddings": not p["output"], "attentionBias": p["bias"] is not None,
    }
    if arch == "gemma3":
        # What llama.cpp assumes for Gemma 3, which the file does not store: the layer pattern (6),
        # the local rotary base (10000) and query_pre_attn_scalar (the head width).
        expected.update(slidingWindow=p["window"], slidingWindowLayers=[i for i in range(p["blocks"]) if (i + 1) % 6],
                        localRopeTheta=10000.0, queryPreAttentionScalar=float(p["key_length"]))
    return expected


def main() -> None:
    out = sys.argv[1] if len(sys.argv) > 1 else "Tests/ModelFormatsTests/Fixtures/gguf"
    os.makedirs(out, exist_ok=True)
    arch = [("general.architecture", V.STRING, "test", None)]
    manifest = {}

    quants_path = os.path.join(out, "quants.gguf")
    write(quants_path, quant_tensors(), METADATA)
    values = []
    manifest["quants.gguf"] = describe(quants_path, values, arch + METADATA)
    manifest["quants.gguf"]["values_file"] = "quants.f32"
    np.concatenate(values).astype("<f4").tofile(os.path.join(out, "quants.f32"))

    # Version 2 differs from 3 only in allowing big-endian files, so a v3 file with its version
    # field set to 2 is a valid v2 file.
    v2_path = os.path.join(out, "aligned64_v2.gguf")
    small = [("f32.row", RNG.standard_normal(7).astype(np.float32), None),
             ("q8_0.row", quantised((64,), T.Q8_0), T.Q8_0)]
    write(v2_path, small, [], alignment=64)
    with open(v2_path, "r+b") as f:
        f.seek(4)
        f.write(struct.pack("<I", 2))
    described = describe(v2_path, None, arch + [("general.alignment", V.UINT32, 64, None)])
    manifest["aligned64_v2.gguf"] = described

    config_out = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Tests", "TransformerTests",
                              "Fixtures", "gguf-configs")
    os.makedirs(config_out, exist_ok=True)
    configs = {f"arch-{arch}.gguf": write_architecture(os.path.join(config_out, f"arch-{arch}.gguf"), arch, p)
               for arch, p in ARCHITECTURES.items()}
    with open(os.path.join(config_out, "expected.json"), "w") as f:
        json.dump(configs, f, indent=1, ensure_ascii=False)
        f.write("\n")

    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=1, ensure_ascii=False)
        f.write("\n")
    for name in sorted(os.listdir(out)):
        print(f"{name}: {os.path.getsize(os.path.join(out, name))} bytes")


if __name__ == "__main__":
    main()
