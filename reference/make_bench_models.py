#!/usr/bin/env python3
"""Random-weight model files with the exact shapes of real models, for `qkprobe bench` at real size.

Only shapes and storage types matter for speed and memory, so the weights are random but valid:
every block scale is a finite positive half-precision number (no NaN or infinity bytes), every
BF16 value a finite number of magnitude about 0.01. GGUF files get no tokenizer and the folder
the tiny test fixture's tokenizer.json: `bench` reads none.

    python3 reference/make_bench_models.py /work/bigmodels                # every shape below
    python3 reference/make_bench_models.py /work/bigmodels qwen2.5-1.5b-q8_0

Shapes (from the models' config.json):
  llama-3.1-8b-q4_k    Llama-3.1-8B, GGUF, every matrix Q4_K, norms F32           ~4.6 GB
  llama-3.1-8b-bf16    Llama-3.1-8B, Hugging Face folder, BF16 safetensors shards  ~16 GB
  qwen2.5-1.5b-q8_0    Qwen2.5-1.5B, GGUF, every matrix Q8_0, biases/norms F32    ~1.6 GB

Llama 3.1's rope_scaling ("llama3") is left out of the configs: it changes rotary frequencies,
not the cost of a pass, and not every qkprobe build reads it.
The files are large: write them outside the repository.
"""
import json
import os
import struct
import sys

import numpy as np

LLAMA_31_8B = dict(arch="llama", vocab=128256, d=4096, layers=32, heads=32, kv_heads=8, d_ff=14336,
                   context=131072, rope_theta=500000.0, eps=1e-5, tied=False, qkv_bias=False)
QWEN_25_15B = dict(arch="qwen2", vocab=151936, d=1536, layers=28, heads=12, kv_heads=2, d_ff=8960,
                   context=32768, rope_theta=1000000.0, eps=1e-6, tied=True, qkv_bias=True)

# ggml block layouts: (elements, bytes)
BLOCKS = {"F32": (1, 4), "Q8_0": (32, 34), "Q4_K": (256, 144)}
GGML_TYPE = {"F32": 0, "Q8_0": 8, "Q4_K": 12}

rng = np.random.default_rng(20260101)


def random_half_scales(count):
    """Finite positive float16 bit patterns around 1e-3 (exponent 5, random mantissa)."""
    return (0x1400 | rng.integers(0, 0x400, size=count, dtype=np.uint16)).astype("<u2")


def random_blocks(kind, elements):
    """Valid random blocks of `kind` for `elements` weights, as bytes."""
    block_elements, block_bytes = BLOCKS[kind]
    blocks = elements // block_elements
    data = rng.integers(0, 256, size=(blocks, block_bytes), dtype=np.uint8)
    if kind == "Q8_0":
        data[:, 0:2] = random_half_scales(blocks).view(np.uint8).reshape(blocks, 2)
    elif kind == "Q4_K":
        data[:, 0:2] = random_half_scales(blocks).view(np.uint8).reshape(blocks, 2)  # d
        data[:, 2:4] = random_half_scales(blocks).view(np.uint8).reshape(blocks, 2)  # dmin
    return data.tobytes()


def llama_tensors(s, matrix_type):
    """(name, shape outermost first, type) in llama.cpp's GGUF naming."""
    d, q, kv, f = s["d"], s["heads"] * (s["d"] // s["heads"]), s["kv_heads"] * (s["d"] // s["heads"]), s["d_ff"]
    tensors = [("token_embd.weight", [s["vocab"], d], matrix_type)]
    for i in range(s["layers"]):
        b = f"blk.{i}."
        tensors += [(b + "attn_norm.weight", [d], "F32"),
                    (b + "attn_q.weight", [q, d], matrix_type), (b + "attn_k.weight", [kv, d], matrix_type),
                    (b + "attn_v.weight", [kv, d], matrix_type)]
        if s["qkv_bias"]:
            tensors += [(b + "attn_q.bias", [q], "F32"), (b + "attn_k.bias", [kv], "F32"), (b + "attn_v.bias", [kv], "F32")]
        tensors += [(b + "attn_output.weight", [d, q], matrix_type), (b + "ffn_norm.weight", [d], "F32"),
                    (b + "ffn_gate.weight", [f, d], matrix_type), (b + "ffn_up.weight", [f, d], matrix_type),
                    (b + "ffn_down.weight", [d, f], matrix_type)]
    tensors.append(("output_norm.weight", [d], "F32"))
    if not s["tied"]:
        tensors.append(("output.weight", [s["vocab"], d], matrix_type))
    return tensors


def gguf_string(text):
    raw = text.encode()
    return struct.pack("<Q", len(raw)) + raw


def write_gguf(path, s, matrix_type):
    arch = s["arch"]
    kv = [("general.architecture", 8, gguf_string(arch)),
          ("general.name", 8, gguf_string(os.path.basename(path))),
          (f"{arch}.block_count", 4, struct.pack("<I", s["layers"])),
          (f"{arch}.context_length", 4, struct.pack("<I", s["context"])),
          (f"{arch}.embedding_length", 4, struct.pack("<I", s["d"])),
          (f"{arch}.feed_forward_length", 4, struct.pack("<I", s["d_ff"])),
          (f"{arch}.attention.head_count", 4, struct.pack("<I", s["heads"])),
          (f"{arch}.attention.head_count_kv", 4, struct.pack("<I", s["kv_heads"])),
          (f"{arch}.rope.freq_base", 6, struct.pack("<f", s["rope_theta"])),
          (f"{arch}.attention.layer_norm_rms_epsilon", 6, struct.pack("<f", s["eps"]))]
    tensors = llama_tensors(s, matrix_type)
    alignment = 32
    infos, offset = [], 0
    for name, shape, kind in tensors:
        elements = int(np.prod(shape))
        size = elements // BLOCKS[kind][0] * BLOCKS[kind][1]
        infos.append((name, shape, kind, offset, size))
        offset += (size + alignment - 1) // alignment * alignment
    with open(path, "wb") as out:
        out.write(b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kv)))
        for key, kind, value in kv:
            out.write(gguf_string(key) + struct.pack("<I", kind) + value)
        for name, shape, kind, start, _ in infos:
            out.write(gguf_string(name) + struct.pack("<I", len(shape)))
            out.write(b"".join(struct.pack("<Q", n) for n in reversed(shape)))
            out.write(struct.pack("<IQ", GGML_TYPE[kind], start))
        out.write(b"\0" * ((-out.tell()) % alignment))
        for name, shape, kind, start, size in infos:
            if kind == "F32":
                data = np.ones(shape, dtype="<f4").tobytes()
            else:
                data = random_blocks(kind, int(np.prod(shape)))
            assert len(data) == size
            out.write(data)
            out.write(b"\0" * ((-size) % alignment))
    print(f"wrote {path}: {os.path.getsize(path) / 1e9:.2f} GB")


def random_bf16(count):
    """Finite BF16 bit patterns of magnitude 2^-7 to 2^-6, random sign and mantissa."""
    return ((rng.integers(0, 1 << 16, size=count, dtype=np.uint16) & 0x807F) | 0x3C00).astype("<u2")


def write_safetensors_folder(folder, s):
    os.makedirs(folder, exist_ok=True)
    d, dh = s["d"], s["d"] // s["heads"]
    q, kv, f = s["heads"] * dh, s["kv_heads"] * dh, s["d_ff"]
    names = [("model.embed_tokens.weight", [s["vocab"], d])]
    for i in range(s["layers"]):
        p = f"model.layers.{i}."
        names += [(p + "input_layernorm.weight", [d]), (p + "self_attn.q_proj.weight", [q, d]),
                  (p + "self_attn.k_proj.weight", [kv, d]), (p + "self_attn.v_proj.weight", [kv, d]),
                  (p + "self_attn.o_proj.weight", [d, q]), (p + "post_attention_layernorm.weight", [d]),
                  (p + "mlp.gate_proj.weight", [f, d]), (p + "mlp.up_proj.weight", [f, d]),
                  (p + "mlp.down_proj.weight", [d, f])]
    names += [("model.norm.weight", [d]), ("lm_head.weight", [s["vocab"], d])]
    # Shards of about 5 GB, as Hugging Face writes them.
    shards, current, size = [], [], 0
    for name, shape in names:
        nbytes = int(np.prod(shape)) * 2
        if current and size + nbytes > 5_000_000_000:
            shards.append(current)
            current, size = [], 0
        current.append((name, shape))
        size += nbytes
    shards.append(current)
    weight_map = {}
    for number, shard in enumerate(shards, 1):
        file_name = f"model-{number:05d}-of-{len(shards):05d}.safetensors"
        header, offset = {}, 0
        for name, shape in shard:
            nbytes = int(np.prod(shape)) * 2
            header[name] = {"dtype": "BF16", "shape": shape, "data_offsets": [offset, offset + nbytes]}
            offset += nbytes
            weight_map[name] = file_name
        raw = json.dumps(header).encode()
        raw += b" " * ((-len(raw)) % 8)
        with open(os.path.join(folder, file_name), "wb") as out:
            out.write(struct.pack("<Q", len(raw)) + raw)
            for name, shape in shard:
                count = int(np.prod(shape))
                if len(shape) == 1:
                    out.write(np.full(count, 0x3F80, dtype="<u2").tobytes())  # 1.0
                    continue
                for start in range(0, count, 1 << 26):
                    out.write(random_bf16(min(1 << 26, count - start)).tobytes())
        print(f"wrote {file_name}")
    with open(os.path.join(folder, "model.safetensors.index.json"), "w") as out:
        json.dump({"metadata": {}, "weight_map": weight_map}, out, indent=1)
    config = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": d,
              "intermediate_size": f, "num_hidden_layers": s["layers"], "num_attention_heads": s["heads"],
              "num_key_value_heads": s["kv_heads"], "head_dim": dh, "vocab_size": s["vocab"],
              "max_position_embeddings": s["context"], "rms_norm_eps": s["eps"], "rope_theta": s["rope_theta"],
              "tie_word_embeddings": False, "attention_bias": False, "mlp_bias": False, "hidden_act": "silu",
              "torch_dtype": "bfloat16", "bos_token_id": 128000, "eos_token_id": 128001}
    with open(os.path.join(folder, "config.json"), "w") as out:
        json.dump(config, out, indent=1)
    # A model folder must hold a tokenizer.json; `bench` reads none, so a tiny fixture's stands in.
    fixture = os.path.join(os.path.dirname(__file__), "..", "Tests", "TransformerTests", "Fixtures", "tiny-llama", "tokenizer.json")
    with open(fixture, "rb") as source, open(os.path.join(folder, "tokenizer.json"), "wb") as out:
        out.write(source.read())
    print(f"wrote {folder}")


MODELS = {
    "llama-3.1-8b-q4_k": lambda root: write_gguf(os.path.join(root, "llama-3.1-8b-q4_k.gguf"), LLAMA_31_8B, "Q4_K"),
    "qwen2.5-1.5b-q8_0": lambda root: write_gguf(os.path.join(root, "qwen2.5-1.5b-q8_0.gguf"), QWEN_25_15B, "Q8_0"),
    "llama-3.1-8b-bf16": lambda root: write_safetensors_folder(os.path.join(root, "llama-3.1-8b-bf16"), LLAMA_31_8B),
}

if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    root = sys.argv[1]
    os.makedirs(root, exist_ok=True)
    for key in sys.argv[2:] or MODELS:
        MODELS[key](root)
