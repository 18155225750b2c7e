#!/usr/bin/env python3
"""Reference fixtures for TransformerTests, made with Hugging Face transformers (float32, CPU).

    python3 reference/make_runtime_fixtures.py            # tiny models and the default model
    python3 reference/make_runtime_fixtures.py --tiny     # tiny models only
    python3 reference/make_runtime_fixtures.py --only tiny-llama3-rope   # some tiny models only

Writes under Tests/TransformerTests/Fixtures/:

  smollm2/reference.{json,bin}     the default model (SmolLM2-135M-Instruct Q4_1 GGUF, read by
                                   transformers' own GGUF loader, which undoes llama.cpp's Q/K
                                   row permutation): logits, q/k/v, greedy tokens.
  chat_templates.json              chat templates and what transformers' apply_chat_template renders
                                   for one user message (the default model's when its file is present).
  tiny-<family>/                   random-weight models made here (tiny-*-rope: scaled rotary
                                   embeddings, llama3 / linear / yarn; tiny-mistral, tiny-gemma3:
                                   sliding windows of 8) with a fixed seed, as an HF folder
                                   (config.json, model.safetensors, tokenizer.json) plus
                                   reference.{json,bin}, and the same model as a float32 GGUF
                                   file (model.gguf) laid out as llama.cpp's converter does
                                   (Llama's Q/K rows permuted, GPT-2's Conv1D transposed).

reference.json lists each array of reference.bin: {"arrays": {name: {"dtype", "shape", "offset"}}},
little-endian float32 ("f32") or int32 ("i32"), row-major. Per prompt i (prefix "p{i}."):

  ids            [T]                 token ids (fixtures never depend on a tokenizer)
  logits         [T, V]              tiny models: every position, every vocab id
  logits_subset  [T, S]              default model: every position, the ids in "vocab_subset"
  logits_last    [V]                 default model: the full row at the last position
  qkv_positions  [P]                 positions at which q/k/v are stored
  q, rot_q       [L, P, H, Dh]       query before / after rotary (Qwen3: after q_norm)
  k, rot_k, v    [L, P, Hkv, Dh]     key before / after rotary, value
  hidden         [L+1, T, D]         tiny models: HF hidden_states (embeddings, each block's output,
                                     the last one after the final norm)
  pattern        [L, H, T, T]        tiny models: attention probabilities (eager attention)
and "greedy.prompt" [T], "greedy.tokens" [20]: argmax decoding, each step a full forward pass.
"""
import argparse
import json
import math
from pathlib import Path

import numpy as np
import torch
import transformers
from transformers import AutoModelForCausalLM, AutoTokenizer

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "Tests" / "TransformerTests" / "Fixtures"
DEFAULT_MODEL = Path.home() / ".cache" / "qkprobe" / "models" / "SmolLM2-135M-Instruct.Q4_1.gguf"
GREEDY_TOKENS = 20
SEED = 20250217


class FixtureWriter:
    """Collects named arrays into reference.bin with a JSON manifest."""

    def __init__(self, **metadata):
        self.metadata = metadata
        self.arrays = {}
        self.blob = bytearray()

    def add(self, name, array):
        array = np.asarray(array)
        if array.dtype.kind == "f":
            array, dtype = array.astype("<f4"), "f32"
        else:
            array, dtype = array.astype("<i4"), "i32"
        assert name not in self.arrays, name
        self.arrays[name] = {"dtype": dtype, "shape": list(array.shape), "offset": len(self.blob)}
        self.blob += np.ascontiguousarray(array).tobytes()

    def save(self, directory):
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "reference.bin").write_bytes(bytes(self.blob))
        manifest = dict(self.metadata, transformers=transformers.__version__, torch=torch.__version__,
                        arrays=self.arrays)
        (directory / "reference.json").write_text(json.dumps(manifest, indent=1) + "\n")
        print(f"{directory.relative_to(ROOT)}: {len(self.blob) / 1e6:.2f} MB")


def attention_modules(model):
    """Each decoder layer's attention module, in order."""
    if model.config.model_type == "gpt2":
        return [block.attn for block in model.transformer.h]
    return [layer.self_attn for layer in model.model.layers]


@torch.no_grad()
def capture_qkv(model, ids):
    """Per layer q, k, v before rotary ([T, heads, Dh] each) and q, k after rotary, read off forward hooks."""
    config = model.config
    n_heads = config.num_attention_heads
    n_kv = getattr(config, "num_key_value_heads", n_heads)
    d_head = getattr(config, "head_dim", None) or config.hidden_size // n_heads
    captured = {}
    handles = []

    # Gemma 3 normalises q and k after moving heads first ([B, H, T, Dh]).
    heads_first = config.model_type == "gemma3_text"

    def keep(layer, kind):
        def hook(_module, _inputs, output):
            if heads_first and kind != "v":
                captured[(layer, kind)] = output[0].transpose(0, 1).clone()
            else:
                captured[(layer, kind)] = output[0].reshape(output.shape[1], -1, d_head).clone()
        return hook

    for layer, attn in enumerate(attention_modules(model)):
        if config.model_type == "gpt2":
            def split(_module, _inputs, output, layer=layer):
                q, k, v = output[0].split(config.hidden_size, dim=-1)
                for kind, x in (("q", q), ("k", k), ("v", v)):
                    captured[(layer, kind)] = x.reshape(x.shape[0], -1, d_head).clone()
            handles.append(attn.c_attn.register_forward_hook(split))
            continue
        # Qwen3 normalises each head of q and k before rotary: q/k are read after the norm.
        q_module = attn.q_norm if hasattr(attn, "q_norm") else attn.q_proj
        k_module = attn.k_norm if hasattr(attn, "k_norm") else attn.k_proj
        handles += [q_module.register_forward_hook(keep(layer, "q")),
                    k_module.register_forward_hook(keep(layer, "k")),
                    attn.v_proj.register_forward_hook(keep(layer, "v"))]
    try:
        output = model(torch.tensor([ids]), output_hidden_states=True,
                       output_attentions=model.config._attn_implementation == "eager")
    finally:
        for handle in handles:
            handle.remove()

    n_layers = config.num_hidden_layers
    q = torch.stack([captured[(l, "q")] for l in range(n_layers)])
    k = torch.stack([captured[(l, "k")] for l in range(n_layers)])
    v = torch.stack([captured[(l, "v")] for l in range(n_layers)])
    assert q.shape[2] == n_heads and k.shape[2] == n_kv, (q.shape, k.shape)
    if config.model_type == "gpt2":
        rot_q, rot_k = None, None
    else:
        # HF's own rotary: the model's cos/sin tables and its module's apply_rotary_pos_emb.
        # Gemma 3 keeps a table per layer type (sliding layers: the local base).
        module = __import__(type(model).__module__, fromlist=["apply_rotary_pos_emb"])
        positions = torch.arange(len(ids))[None]
        layer_types = getattr(config, "layer_types", None) if config.model_type == "gemma3_text" else None
        rotated = []
        for layer in range(n_layers):
            extra = (layer_types[layer],) if layer_types else ()
            cos, sin = model.model.rotary_emb(q[layer:layer + 1], positions, *extra)
            rq, rk = module.apply_rotary_pos_emb(q[layer:layer + 1].transpose(1, 2), k[layer:layer + 1].transpose(1, 2), cos, sin)
            rotated.append((rq.transpose(1, 2)[0], rk.transpose(1, 2)[0]))
        rot_q = torch.stack([r[0] for r in rotated])
        rot_k = torch.stack([r[1] for r in rotated])
    return output, q, k, v, rot_q, rot_k


@torch.no_grad()
def greedy(model, prompt, steps=GREEDY_TOKENS):
    """Argmax decoding without a cache or stop token; also returns the smallest top-1 margin."""
    ids, margin = list(prompt), math.inf
    for _ in range(steps):
        logits = model(torch.tensor([ids])).logits[0, -1]
        top = torch.topk(logits, 2).values
        margin = min(margin, float(top[0] - top[1]))
        ids.append(int(torch.argmax(logits)))
    return ids[len(prompt):], margin


def add_prompt(writer, model, index, ids, qkv_positions=None, full_logits=True, vocab_subset=None):
    output, q, k, v, rot_q, rot_k = capture_qkv(model, ids)
    prefix = f"p{index}."
    writer.add(prefix + "ids", ids)
    logits = output.logits[0]
    if full_logits:
        writer.add(prefix + "logits", logits)
    else:
        writer.add(prefix + "logits_subset", logits[:, vocab_subset])
        writer.add(prefix + "logits_last", logits[-1])
    positions = list(range(len(ids))) if qkv_positions is None else qkv_positions
    writer.add(prefix + "qkv_positions", positions)
    for name, value in (("q", q), ("k", k), ("v", v), ("rot_q", rot_q), ("rot_k", rot_k)):
        if value is not None:
            writer.add(prefix + name, value[:, positions])
    if full_logits:
        writer.add(prefix + "hidden", torch.stack(output.hidden_states)[:, 0])
        if output.attentions is not None:
            writer.add(prefix + "pattern", torch.stack(output.attentions)[:, 0])


# ---------------------------------------------------------------------------------------------
# The default model

DEFAULT_PROMPTS = [
    "The capital of France is",
    "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
    "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n",
    "Every wumpus is a yumpus. Every yumpus is a dumpus. Every dumpus is bright. Every impus is not "
    "bright. Every jompus is a zumpus. Every zumpus is a rompus. Every rompus is sour. Every tumpus "
    "is not sour. Sally is a wumpus. Max is a jompus. Each grimpus is a vumpus, and each vumpus is "
    "shy. Every numpus is a grimpus. Polly is a numpus. Alex is a tumpus.\n"
    "Question: True or false: Sally is bright. Polly is shy. Max is sour.\nAnswer:",
]


def make_default_model_fixture():
    torch.manual_seed(SEED)
    model = AutoModelForCausalLM.from_pretrained(DEFAULT_MODEL.parent, gguf_file=DEFAULT_MODEL.name,
                                                 dtype=torch.float32).eval()
    tokenizer = AutoTokenizer.from_pretrained(DEFAULT_MODEL.parent, gguf_file=DEFAULT_MODEL.name)
    prompts = [tokenizer(text, add_special_tokens=False).input_ids for text in DEFAULT_PROMPTS]
    vocab = model.config.vocab_size
    # All positions for a fixed subset of the vocabulary, plus every position's argmax.
    rng = np.random.default_rng(SEED)
    subset = set(rng.choice(vocab, size=448, replace=False).tolist())
    with torch.no_grad():
        for ids in prompts:
            subset |= set(model(torch.tensor([ids])).logits[0].argmax(-1).tolist())
    subset = sorted(subset)

    writer = FixtureWriter(model=DEFAULT_MODEL.name, prompts=DEFAULT_PROMPTS)
    writer.add("vocab_subset", subset)
    for index, ids in enumerate(prompts):
        positions = sorted({0, len(ids) // 2, len(ids) - 1}) if index == len(prompts) - 1 else []
        add_prompt(writer, model, index, ids, qkv_positions=positions, full_logits=False, vocab_subset=subset)
        print(f"  prompt {index}: {len(ids)} tokens")
    tokens, margin = greedy(model, prompts[1])
    writer.add("greedy.prompt", prompts[1])
    writer.add("greedy.tokens", tokens)
    print(f"  greedy: {tokenizer.decode(tokens)!r} (smallest top-1 margin {margin:.4f})")
    writer.save(FIXTURES / "smollm2")


# ---------------------------------------------------------------------------------------------
# Tiny random-weight models

TOKENIZER_CORPUS = [
    "Every cat is a mammal. Every mammal is warm. Tom is a cat. True or false: Tom is warm.",
    "Alice is taller than Bob. Bob is taller than Carol. Question: Is Alice taller than Carol?",
    "If it rains, the grass is wet. It rains. Therefore the grass is wet. Answer: True",
    "The quick brown fox jumps over the lazy dog. Hello world! 1234567890 + - * / = ?",
]
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]


def make_tokenizer(vocab_size):
    """A small byte-level BPE, trained on a fixed corpus (deterministic)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tokenizer.train_from_iterator(TOKENIZER_CORPUS * 4, trainer)
    return tokenizer


TINY_PROMPTS = [
    "Tom is a cat. Every cat is warm. Is Tom warm?",
    "Alice is taller than Bob. Bob is taller than Carol. Question: Is Alice taller than Carol? "
    "If it rains, the grass is wet. The quick brown fox jumps over the lazy dog.",
]


def tiny_configs(vocab_size):
    common = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
                  max_position_embeddings=128, bos_token_id=0, eos_token_id=0)
    return {
        # grouped-query attention, untied output head
        "tiny-llama": transformers.LlamaConfig(
            **common, num_key_value_heads=2, vocab_size=vocab_size, rms_norm_eps=1e-5,
            rope_theta=10000.0, tie_word_embeddings=False),
        # q/k/v biases, tied embeddings, a vocabulary padded past the tokenizer's
        "tiny-qwen2": transformers.Qwen2Config(
            **dict(common, num_hidden_layers=3), num_key_value_heads=2, vocab_size=vocab_size + 20,
            rms_norm_eps=1e-6, rope_theta=1000000.0, tie_word_embeddings=True),
        # per-head q/k RMSNorm, a head size that is not hidden_size / heads
        "tiny-qwen3": transformers.Qwen3Config(
            **common, num_key_value_heads=2, head_dim=32, vocab_size=vocab_size, rms_norm_eps=1e-6,
            rope_theta=1000000.0, tie_word_embeddings=True),
        # Scaled rotary embeddings, one layer each. The original context (32) is shorter than the
        # second prompt, and the head size (16) gives frequencies in every regime of each scaling.
        "tiny-llama3-rope": transformers.LlamaConfig(
            **dict(common, num_hidden_layers=1), num_key_value_heads=2, vocab_size=vocab_size, rms_norm_eps=1e-5,
            rope_parameters=dict(rope_type="llama3", rope_theta=10000.0, factor=8.0, low_freq_factor=1.0,
                                 high_freq_factor=4.0, original_max_position_embeddings=32),
            tie_word_embeddings=False),
        "tiny-llama-linear-rope": transformers.LlamaConfig(
            **dict(common, num_hidden_layers=1), num_key_value_heads=2, vocab_size=vocab_size, rms_norm_eps=1e-5,
            rope_parameters=dict(rope_type="linear", rope_theta=10000.0, factor=2.0), tie_word_embeddings=True),
        "tiny-qwen2-yarn-rope": transformers.Qwen2Config(
            **dict(common, num_hidden_layers=1), num_key_value_heads=2, vocab_size=vocab_size, rms_norm_eps=1e-6,
            rope_parameters=dict(rope_type="yarn", rope_theta=10000.0, factor=4.0, original_max_position_embeddings=32),
            tie_word_embeddings=True),
        # Sliding-window attention over 8 positions on every layer; both prompts (25 and 93
        # tokens) run well past it. llama.cpp writes Mistral as `llama` with attention.sliding_window.
        "tiny-mistral": transformers.MistralConfig(
            **common, num_key_value_heads=2, vocab_size=vocab_size, rms_norm_eps=1e-5, rope_theta=10000.0,
            sliding_window=8, tie_word_embeddings=False),
        # Gemma 3: five sliding-window layers (window 8, local rotary base 10000) then one global
        # layer (base 1000, linear rotary scaling), q/k norms, post-norms, GeGLU, embedding scale.
        # The layout, local base and query_pre_attn_scalar (= head_dim) are the ones llama.cpp
        # assumes for GGUF files, which store none of them.
        "tiny-gemma3": transformers.Gemma3TextConfig(
            hidden_size=64, intermediate_size=128, num_hidden_layers=6, num_attention_heads=4,
            num_key_value_heads=2, head_dim=16, query_pre_attn_scalar=16, max_position_embeddings=128,
            vocab_size=vocab_size, rms_norm_eps=1e-6, sliding_window=8, bos_token_id=0, eos_token_id=0,
            pad_token_id=0, tie_word_embeddings=True,
            rope_parameters={"full_attention": {"rope_type": "linear", "factor": 2.0, "rope_theta": 1000.0},
                             "sliding_attention": {"rope_type": "default", "rope_theta": 10000.0}}),
        "tiny-gpt2": transformers.GPT2Config(
            n_embd=64, n_layer=2, n_head=4, n_inner=None, n_positions=128, vocab_size=vocab_size,
            activation_function="gelu_new", layer_norm_epsilon=1e-5, bos_token_id=0, eos_token_id=0),
    }


@torch.no_grad()
def randomise(model, generator):
    """Weights large enough that every part of the model shows in the logits: matrices scaled by
    1/sqrt(fan-in), norm gains around 1, non-zero biases, embeddings O(1)."""
    for name, param in model.named_parameters():
        noise = torch.randn(param.shape, generator=generator)
        if param.dim() == 1:
            is_gain = name.endswith("norm.weight") or (".ln_" in name and name.endswith("weight"))
            # Gemma's norms multiply by 1 + weight.
            offset = 0 if model.config.model_type == "gemma3_text" else 1
            param.copy_(offset + 0.2 * noise if is_gain else 0.2 * noise)
        elif "embed" in name or name.endswith(("wte.weight", "wpe.weight")):
            param.copy_(0.5 * noise)
        else:
            fan_in = param.shape[0] if type(model).__name__.startswith("GPT2") else param.shape[1]
            param.copy_(noise / math.sqrt(fan_in))


def write_tokenizer_folder(tokenizer, directory):
    tokenizer.save(str(directory / "tokenizer.json"))
    (directory / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "PreTrainedTokenizerFast", "bos_token": "<|endoftext|>",
        "eos_token": "<|endoftext|>", "add_bos_token": False, "model_max_length": 128,
        "chat_template": "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + "
                         "message['content'] + '<|im_end|>' + '\n'}}{% endfor %}"
                         "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}",
    }, indent=1) + "\n")


def llama_gguf_permute(weights, n_heads):
    """llama.cpp's converter (LlamaModel.permute): within each head, rows i and i + Dh/2 become adjacent."""
    return (weights.reshape(n_heads, 2, weights.shape[0] // n_heads // 2, *weights.shape[1:])
            .swapaxes(1, 2).reshape(weights.shape))


def llama3_rope_divisors(parameters, head_dim):
    """Llama 3 scaling as llama.cpp's converter stores it: one divisor per rotary frequency
    (the tensor rope_freqs.weight), computed in Python floats from float32 frequencies."""
    base, factor = parameters["rope_theta"], parameters["factor"]
    low, high = parameters["low_freq_factor"], parameters["high_freq_factor"]
    original = parameters["original_max_position_embeddings"]
    frequencies = 1.0 / (base ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim))
    divisors = []
    for frequency in frequencies.tolist():
        wavelength = 2 * math.pi / frequency
        if wavelength < original / high:
            divisors.append(1.0)
        elif wavelength > original / low:
            divisors.append(factor)
        else:
            smooth = (original / wavelength - low) / (high - low)
            divisors.append(1 / ((1 - smooth) / factor + smooth))
    return torch.tensor(divisors, dtype=torch.float32)


def write_gguf(model, tokenizer, path):
    """A tiny model as a float32 GGUF file laid out as llama.cpp's converter writes it: Llama's
    Q/K rows permuted, GPT-2's Conv1D weights transposed to [out, in], names from gguf-py."""
    import gguf
    config = model.config
    family = config.model_type
    gemma = family == "gemma3_text"
    # llama.cpp writes Mistral as llama (Q/K rows permuted), Gemma 3's text model as gemma3.
    arch = {"mistral": "llama", "gemma3_text": "gemma3"}.get(family, family)
    writer = gguf.GGUFWriter(str(path), arch)
    writer.add_name(path.parent.name)
    if family == "gpt2":
        writer.add_block_count(config.n_layer)
        writer.add_context_length(config.n_positions)
        writer.add_embedding_length(config.n_embd)
        writer.add_feed_forward_length(4 * config.n_embd)
        writer.add_head_count(config.n_head)
        writer.add_layer_norm_eps(config.layer_norm_epsilon)
    else:
        head_dim = getattr(config, "head_dim", None) or config.hidden_size // config.num_attention_heads
        writer.add_block_count(config.num_hidden_layers)
        writer.add_context_length(config.max_position_embeddings)
        writer.add_embedding_length(config.hidden_size)
        writer.add_feed_forward_length(config.intermediate_size)
        writer.add_head_count(config.num_attention_heads)
        writer.add_head_count_kv(config.num_key_value_heads)
        writer.add_key_length(head_dim)
        writer.add_value_length(head_dim)
        scaling = config.rope_parameters["full_attention"] if gemma else config.rope_parameters
        writer.add_rope_freq_base(scaling["rope_theta"])
        writer.add_rope_dimension_count(head_dim)
        if getattr(config, "sliding_window", None) is not None:
            writer.add_sliding_window(config.sliding_window)
        if scaling.get("rope_type") == "linear":
            writer.add_rope_scaling_type(gguf.RopeScalingType.LINEAR)
            writer.add_rope_scaling_factor(scaling["factor"])
        elif scaling.get("rope_type") == "yarn":
            writer.add_rope_scaling_type(gguf.RopeScalingType.YARN)
            writer.add_rope_scaling_factor(scaling["factor"])
            writer.add_rope_scaling_orig_ctx_len(scaling["original_max_position_embeddings"])
        writer.add_layer_norm_rms_eps(config.rms_norm_eps)
    writer.add_vocab_size(config.vocab_size)
    writer.add_file_type(gguf.LlamaFileType.ALL_F32)
    vocab = tokenizer.get_vocab()
    tokens = sorted(vocab, key=vocab.get)
    merges = json.loads(tokenizer.to_str())["model"]["merges"]
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("gpt-2")  # the tiny tokenizer splits text as GPT-2 does
    writer.add_token_list(tokens)
    writer.add_token_types([gguf.TokenType.CONTROL if t in SPECIAL_TOKENS else gguf.TokenType.NORMAL
                            for t in tokens])
    writer.add_token_merges([m if isinstance(m, str) else " ".join(m) for m in merges])
    writer.add_bos_token_id(0)
    writer.add_eos_token_id(0)
    writer.add_add_bos_token(False)

    def tensor(name, value):
        writer.add_tensor(name, np.ascontiguousarray(value.detach().numpy().astype(np.float32)))

    if family == "gpt2":
        base = model.transformer
        tensor("token_embd.weight", base.wte.weight)
        tensor("position_embd.weight", base.wpe.weight)
        for i, block in enumerate(base.h):
            for gguf_name, module in (("attn_norm", block.ln_1), ("attn_qkv", block.attn.c_attn),
                                      ("attn_output", block.attn.c_proj), ("ffn_norm", block.ln_2),
                                      ("ffn_up", block.mlp.c_fc), ("ffn_down", block.mlp.c_proj)):
                weight = module.weight if module.weight.dim() == 1 else module.weight.T
                tensor(f"blk.{i}.{gguf_name}.weight", weight)
                tensor(f"blk.{i}.{gguf_name}.bias", module.bias)
        tensor("output_norm.weight", base.ln_f.weight)
        tensor("output_norm.bias", base.ln_f.bias)
        tensor("output.weight", base.wte.weight)
    else:
        base = model.model

        def norm(name, module):
            # llama.cpp's Gemma converter stores 1 + weight.
            tensor(name, module.weight + 1 if gemma else module.weight)

        tensor("token_embd.weight", base.embed_tokens.weight)
        if config.rope_parameters.get("rope_type") == "llama3":
            tensor("rope_freqs.weight", llama3_rope_divisors(config.rope_parameters, head_dim))
        for i, layer in enumerate(base.layers):
            attn, mlp = layer.self_attn, layer.mlp
            q, k = attn.q_proj.weight, attn.k_proj.weight
            if arch == "llama":
                q = llama_gguf_permute(q, config.num_attention_heads)
                k = llama_gguf_permute(k, config.num_key_value_heads)
            norm(f"blk.{i}.attn_norm.weight", layer.input_layernorm)
            tensor(f"blk.{i}.attn_q.weight", q)
            tensor(f"blk.{i}.attn_k.weight", k)
            tensor(f"blk.{i}.attn_v.weight", attn.v_proj.weight)
            for gguf_name, module in (("attn_q", attn.q_proj), ("attn_k", attn.k_proj), ("attn_v", attn.v_proj)):
                if module.bias is not None:
                    tensor(f"blk.{i}.{gguf_name}.bias", module.bias)
            if hasattr(attn, "q_norm"):
                norm(f"blk.{i}.attn_q_norm.weight", attn.q_norm)
                norm(f"blk.{i}.attn_k_norm.weight", attn.k_norm)
            tensor(f"blk.{i}.attn_output.weight", attn.o_proj.weight)
            if gemma:
                norm(f"blk.{i}.post_attention_norm.weight", layer.post_attention_layernorm)
                norm(f"blk.{i}.ffn_norm.weight", layer.pre_feedforward_layernorm)
                norm(f"blk.{i}.post_ffw_norm.weight", layer.post_feedforward_layernorm)
            else:
                norm(f"blk.{i}.ffn_norm.weight", layer.post_attention_layernorm)
            tensor(f"blk.{i}.ffn_gate.weight", mlp.gate_proj.weight)
            tensor(f"blk.{i}.ffn_up.weight", mlp.up_proj.weight)
            tensor(f"blk.{i}.ffn_down.weight", mlp.down_proj.weight)
        norm("output_norm.weight", base.norm)
        if not config.tie_word_embeddings:
            tensor("output.weight", model.lm_head.weight)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()


def make_tiny_fixtures(only=None):
    tokenizer = make_tokenizer(vocab_size=300)
    vocab_size = tokenizer.get_vocab_size()
    prompts = [tokenizer.encode(text).ids for text in TINY_PROMPTS]
    for name, config in tiny_configs(vocab_size).items():
        if only and name not in only:
            continue
        directory = FIXTURES / name
        directory.mkdir(parents=True, exist_ok=True)
        torch.manual_seed(SEED)
        # eager attention, so that attention probabilities can be read
        model = AutoModelForCausalLM.from_config(config, dtype=torch.float32,
                                                 attn_implementation="eager").eval()
        randomise(model, torch.Generator().manual_seed(SEED))
        model.save_pretrained(directory)
        (directory / "generation_config.json").unlink(missing_ok=True)
        write_tokenizer_folder(tokenizer, directory)

        writer = FixtureWriter(model=name)
        for index, ids in enumerate(prompts):
            add_prompt(writer, model, index, ids)
        tokens, margin = greedy(model, prompts[0])
        writer.add("greedy.prompt", prompts[0])
        writer.add("greedy.tokens", tokens)
        print(f"  {name}: prompts {[len(p) for p in prompts]} tokens, greedy margin {margin:.4f}")
        writer.save(directory)

        gguf_path = directory / "model.gguf"
        write_gguf(model, tokenizer, gguf_path)
        # transformers reads the GGUF back (undoing Llama's permutation): it must be the same model.
        # (Its GGUF loader ignores Qwen3's head size, so the tiny Qwen3 cannot be read back.)
        # (Its GPT-2 reader takes the position table's size from a key llama.cpp does not write.)
        # (Nor does it read rotary scaling, so the scaled models are not read back either.)
        if name in ("tiny-llama", "tiny-qwen2", "tiny-gpt2"):
            overrides = {"n_positions": config.n_positions} if name == "tiny-gpt2" else {}
            reread = AutoModelForCausalLM.from_pretrained(directory, gguf_file=gguf_path.name,
                                                          dtype=torch.float32, **overrides).eval()
            with torch.no_grad():
                a = model(torch.tensor([prompts[1]])).logits
                b = reread(torch.tensor([prompts[1]])).logits
            assert a.shape == b.shape and torch.allclose(a, b, atol=1e-5), name


# ---------------------------------------------------------------------------------------------
# Chat templates, rendered by transformers' apply_chat_template

CHAT_MESSAGE = "What is the capital of France?"
# Written in the style of Qwen2.5's template: a default system turn in an else branch, and a
# system turn built from the message (not a literal) in the other.
QWEN_STYLE_TEMPLATE = (
    "{%- if messages[0]['role'] == 'system' %}"
    "{{- '<|im_start|>system\\n' + messages[0]['content'] + '<|im_end|>\\n' }}"
    "{%- else %}"
    "{{- '<|im_start|>system\\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- for message in messages %}"
    "{%- if not (message.role == 'system' and loop.first) %}"
    "{{- '<|im_start|>' + message.role + '\\n' + message.content + '<|im_end|>' + '\\n' }}"
    "{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)
LLAMA2_STYLE_TEMPLATE = (
    "{% for message in messages %}{% if message['role'] == 'user' %}"
    "{{ bos_token + '[INST] ' + message['content'] + ' [/INST]' }}{% endif %}{% endfor %}"
)


def make_chat_fixture():
    """Templates (the default model's, the tiny folders', a Qwen-style and an unsupported one) with
    what apply_chat_template(add_generation_prompt=True) makes of one user message."""
    tiny = AutoTokenizer.from_pretrained(FIXTURES / "tiny-llama")
    templates = [("tiny", tiny.chat_template), ("qwen-style", QWEN_STYLE_TEMPLATE),
                 ("llama2-style", LLAMA2_STYLE_TEMPLATE)]
    if DEFAULT_MODEL.exists():
        smollm = AutoTokenizer.from_pretrained(DEFAULT_MODEL.parent, gguf_file=DEFAULT_MODEL.name)
        templates.insert(0, ("smollm2", smollm.chat_template))
    cases = []
    for name, template in templates:
        rendered = tiny.apply_chat_template([{"role": "user", "content": CHAT_MESSAGE}], chat_template=template,
                                            tokenize=False, add_generation_prompt=True)
        cases.append({"name": name, "template": template, "message": CHAT_MESSAGE, "rendered": rendered,
                      "chatml": "<|im_start|>" in template})
    path = FIXTURES / "chat_templates.json"
    path.write_text(json.dumps(cases, indent=1) + "\n")
    print(f"{path.relative_to(ROOT)}: {len(cases)} templates")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tiny", action="store_true", help="only the tiny random-weight models")
    parser.add_argument("--only", nargs="+", metavar="NAME", help="only these tiny models (implies --tiny)")
    args = parser.parse_args()
    make_tiny_fixtures(args.only)
    if args.only:
        return
    if not args.tiny:
        make_default_model_fixture()
    make_chat_fixture()


if __name__ == "__main__":
    main()
