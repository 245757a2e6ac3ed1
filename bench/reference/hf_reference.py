#!/usr/bin/python3
"""Reference logits for ChatForge's Hugging Face import tests.

Builds tiny random-weight checkpoints in the Hugging Face layout (config.json + model.safetensors, or
shards + model.safetensors.index.json) for Llama, Qwen2, Mistral and GPT-2, runs each through a plain
PyTorch forward pass that follows the transformers modeling code's math (RMSNorm in float32, rotate_half
RoPE, repeat_kv for grouped-query attention, SiLU-gated MLP; GPT-2's Conv1D [in, out] weights, gelu_new),
and writes the logits of a fixed token sequence to expected.safetensors ("tokens" [T] and "logits" [T, V],
float32). Also writes the expected ids of a byte-level BPE tokenizer fixture (see tokenizer_fixture below).

  /usr/bin/python3 bench/reference/hf_reference.py [--out tests/ChatForge.Import.Tests/Fixtures]

Uses Debian's python3-torch only (no transformers / safetensors / tokenizers packages needed).
"""
import argparse, json, math, os, struct

import torch

TOKENS = [1, 7, 42, 3, 88, 15, 0, 63, 29, 50, 11, 94]
VOCAB = 96
# 60 positions: long enough for RoPE scaling of the slow frequencies to move the logits.
LONG_TOKENS = [(7 * i + 3) % VOCAB for i in range(60)]

def write_safetensors(path, tensors, dtype="F32"):
    """tensors: list of (name, float32 tensor). dtype F32 or BF16 for all of them."""
    header, blobs, offset = {}, [], 0
    for name, t in tensors:
        t = t.detach().contiguous()
        if dtype == "BF16":
            data = t.to(torch.bfloat16).view(torch.int16).numpy().tobytes()
        else:
            data = t.to(torch.float32).numpy().tobytes()
        header[name] = {"dtype": dtype, "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    header["__metadata__"] = {"format": "pt"}
    raw = json.dumps(header).encode()
    raw += b" " * ((8 - len(raw) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)))
        f.write(raw)
        for b in blobs:
            f.write(b)

def rand(gen, *shape, scale):
    return torch.randn(*shape, generator=gen) * scale

# ------------------------------------------------------------------ Llama / Qwen2 / Mistral

def llama_weights(cfg, gen, qkv_bias):
    d, hd = cfg["hidden_size"], cfg["hidden_size"] // cfg["num_attention_heads"]
    q, kv, ff, V = cfg["num_attention_heads"] * hd, cfg["num_key_value_heads"] * hd, cfg["intermediate_size"], cfg["vocab_size"]
    w = {"model.embed_tokens.weight": rand(gen, V, d, scale=0.5)}
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        w[p + "input_layernorm.weight"] = 1 + rand(gen, d, scale=0.1)
        w[p + "self_attn.q_proj.weight"] = rand(gen, q, d, scale=d ** -0.5)
        w[p + "self_attn.k_proj.weight"] = rand(gen, kv, d, scale=d ** -0.5)
        w[p + "self_attn.v_proj.weight"] = rand(gen, kv, d, scale=d ** -0.5)
        if qkv_bias:
            w[p + "self_attn.q_proj.bias"] = rand(gen, q, scale=0.1)
            w[p + "self_attn.k_proj.bias"] = rand(gen, kv, scale=0.1)
            w[p + "self_attn.v_proj.bias"] = rand(gen, kv, scale=0.1)
        w[p + "self_attn.o_proj.weight"] = rand(gen, d, q, scale=q ** -0.5)
        w[p + "post_attention_layernorm.weight"] = 1 + rand(gen, d, scale=0.1)
        w[p + "mlp.gate_proj.weight"] = rand(gen, ff, d, scale=d ** -0.5)
        w[p + "mlp.up_proj.weight"] = rand(gen, ff, d, scale=d ** -0.5)
        w[p + "mlp.down_proj.weight"] = rand(gen, d, ff, scale=ff ** -0.5)
    w["model.norm.weight"] = 1 + rand(gen, d, scale=0.1)
    if not cfg["tie_word_embeddings"]:
        w["lm_head.weight"] = rand(gen, V, d, scale=d ** -0.5)
    return w

def rms_norm(x, weight, eps):
    # LlamaRMSNorm: variance in float32, then weight * normalised input.
    variance = x.to(torch.float32).pow(2).mean(-1, keepdim=True)
    return weight * (x * torch.rsqrt(variance + eps))

def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)

def llama3_inv_freq(inv_freq, rs):
    """transformers' _compute_llama3_parameters: keep short wavelengths, stretch long ones, blend in between."""
    factor, low, high, old = rs["factor"], rs["low_freq_factor"], rs["high_freq_factor"], rs["original_max_position_embeddings"]
    low_wavelen, high_wavelen = old / low, old / high
    wavelen = 2 * math.pi / inv_freq
    scaled = torch.where(wavelen > low_wavelen, inv_freq / factor, inv_freq)
    smooth = (old / wavelen - low) / (high - low)
    blended = (1 - smooth) * scaled / factor + smooth * scaled
    medium = ~(wavelen < high_wavelen) * ~(wavelen > low_wavelen)
    return torch.where(medium, blended, scaled)

def llama_logits(cfg, w, tokens):
    T, d, H, Hkv = len(tokens), cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"]
    hd, eps = d // H, cfg["rms_norm_eps"]
    inv_freq = 1.0 / (cfg["rope_theta"] ** (torch.arange(0, hd, 2, dtype=torch.int64).float() / hd))
    if cfg.get("rope_scaling"):
        inv_freq = llama3_inv_freq(inv_freq, cfg["rope_scaling"])
    freqs = torch.outer(torch.arange(T).float(), inv_freq)
    emb = torch.cat((freqs, freqs), dim=-1)
    cos, sin = emb.cos(), emb.sin()
    mask = torch.full((T, T), float("-inf")).triu(1)
    h = w["model.embed_tokens.weight"][torch.tensor(tokens)]
    for i in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{i}."
        x = rms_norm(h, w[p + "input_layernorm.weight"], eps)
        def proj(name):
            y = x @ w[p + f"self_attn.{name}.weight"].T
            return y + w[p + f"self_attn.{name}.bias"] if p + f"self_attn.{name}.bias" in w else y
        q = proj("q_proj").view(T, H, hd).transpose(0, 1)
        k = proj("k_proj").view(T, Hkv, hd).transpose(0, 1)
        v = proj("v_proj").view(T, Hkv, hd).transpose(0, 1)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k = k.repeat_interleave(H // Hkv, dim=0)  # repeat_kv
        v = v.repeat_interleave(H // Hkv, dim=0)
        scores = q @ k.transpose(1, 2) / math.sqrt(hd) + mask
        att = torch.softmax(scores.float(), dim=-1) @ v
        h = h + att.transpose(0, 1).reshape(T, H * hd) @ w[p + "self_attn.o_proj.weight"].T
        x = rms_norm(h, w[p + "post_attention_layernorm.weight"], eps)
        gate = x @ w[p + "mlp.gate_proj.weight"].T
        up = x @ w[p + "mlp.up_proj.weight"].T
        h = h + (torch.nn.functional.silu(gate) * up) @ w[p + "mlp.down_proj.weight"].T
    h = rms_norm(h, w["model.norm.weight"], eps)
    head = w["model.embed_tokens.weight"] if cfg["tie_word_embeddings"] else w["lm_head.weight"]
    return h @ head.T

# ------------------------------------------------------------------ GPT-2

def gpt2_weights(cfg, gen):
    d, V, T, ff = cfg["n_embd"], cfg["vocab_size"], cfg["n_positions"], cfg["n_inner"]
    w = {"transformer.wte.weight": rand(gen, V, d, scale=0.5), "transformer.wpe.weight": rand(gen, T, d, scale=0.1)}
    for i in range(cfg["n_layer"]):
        p = f"transformer.h.{i}."
        w[p + "ln_1.weight"] = 1 + rand(gen, d, scale=0.1)
        w[p + "ln_1.bias"] = rand(gen, d, scale=0.1)
        w[p + "attn.c_attn.weight"] = rand(gen, d, 3 * d, scale=d ** -0.5)  # Conv1D: [in, out]
        w[p + "attn.c_attn.bias"] = rand(gen, 3 * d, scale=0.1)
        w[p + "attn.c_proj.weight"] = rand(gen, d, d, scale=d ** -0.5)
        w[p + "attn.c_proj.bias"] = rand(gen, d, scale=0.1)
        w[p + "ln_2.weight"] = 1 + rand(gen, d, scale=0.1)
        w[p + "ln_2.bias"] = rand(gen, d, scale=0.1)
        w[p + "mlp.c_fc.weight"] = rand(gen, d, ff, scale=d ** -0.5)
        w[p + "mlp.c_fc.bias"] = rand(gen, ff, scale=0.1)
        w[p + "mlp.c_proj.weight"] = rand(gen, ff, d, scale=ff ** -0.5)
        w[p + "mlp.c_proj.bias"] = rand(gen, d, scale=0.1)
    w["transformer.ln_f.weight"] = 1 + rand(gen, d, scale=0.1)
    w["transformer.ln_f.bias"] = rand(gen, d, scale=0.1)
    return w

def gelu_new(x):
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))

def gpt2_logits(cfg, w, tokens):
    T, d, H, eps = len(tokens), cfg["n_embd"], cfg["n_head"], cfg["layer_norm_epsilon"]
    hd = d // H
    mask = torch.full((T, T), float("-inf")).triu(1)
    ln = lambda x, p: torch.nn.functional.layer_norm(x, (d,), w[p + ".weight"], w[p + ".bias"], eps)
    conv1d = lambda x, p: torch.addmm(w[p + ".bias"], x, w[p + ".weight"])
    h = w["transformer.wte.weight"][torch.tensor(tokens)] + w["transformer.wpe.weight"][:T]
    for i in range(cfg["n_layer"]):
        p = f"transformer.h.{i}."
        q, k, v = conv1d(ln(h, p + "ln_1"), p + "attn.c_attn").split(d, dim=1)
        q, k, v = (t.view(T, H, hd).transpose(0, 1) for t in (q, k, v))
        att = torch.softmax(q @ k.transpose(1, 2) / math.sqrt(hd) + mask, dim=-1) @ v
        h = h + conv1d(att.transpose(0, 1).reshape(T, d), p + "attn.c_proj")
        h = h + conv1d(gelu_new(conv1d(ln(h, p + "ln_2"), p + "mlp.c_fc")), p + "mlp.c_proj")
    h = ln(h, "transformer.ln_f")
    return h @ w["transformer.wte.weight"].T

# ------------------------------------------------------------------ fixtures

def llama_config(arch, model_type, tie, kv_heads, **extra):
    cfg = {"architectures": [arch], "model_type": model_type, "vocab_size": VOCAB, "hidden_size": 32,
           "intermediate_size": 48, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": kv_heads,
           "max_position_embeddings": 64, "rms_norm_eps": 1e-6, "rope_theta": 10000.0, "hidden_act": "silu",
           "tie_word_embeddings": tie, "torch_dtype": "float32"}
    cfg.update(extra)
    return cfg

def bf16_round(w):
    return {k: v.to(torch.bfloat16).to(torch.float32) for k, v in w.items()}

def save(out, name, cfg, w, logits, dtype="F32", shards=1, tokens=TOKENS):
    folder = os.path.join(out, name)
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    names = list(w.keys())
    if shards == 1:
        write_safetensors(os.path.join(folder, "model.safetensors"), [(n, w[n]) for n in names], dtype)
    else:
        per = (len(names) + shards - 1) // shards
        weight_map = {}
        for s in range(shards):
            file = f"model-{s + 1:05d}-of-{shards:05d}.safetensors"
            part = names[s * per:(s + 1) * per]
            write_safetensors(os.path.join(folder, file), [(n, w[n]) for n in part], dtype)
            weight_map.update({n: file for n in part})
        with open(os.path.join(folder, "model.safetensors.index.json"), "w") as f:
            json.dump({"metadata": {"total_size": 0}, "weight_map": weight_map}, f, indent=2)
    write_safetensors(os.path.join(folder, "expected.safetensors"),
                      [("tokens", torch.tensor(tokens, dtype=torch.float32)), ("logits", logits)])
    print(f"{name}: logits {tuple(logits.shape)}, |logits| max {logits.abs().max().item():.3f}")

# ------------------------------------------------------------------ tokenizer

# Qwen2's pre-tokenizer regex as written in its tokenizer.json, and the same pattern in Python's `re`
# (no \p{..} classes there: \p{L} is [^\W\d_], \p{N} is \d — equal on the fixture text, which has no
# letter-like numerals or combining marks).
QWEN2_PATTERN = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
QWEN2_PATTERN_PY = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|(?:[^\r\n\w]|_)?[^\W\d_]+|\d| ?(?:[^\s\w]|_)+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
TOKENIZER_CORPUS = ("The model answers questions in English and Chinese. 模型用中文和英文回答问题。"
                    "Hello world! 你好，世界！ It's a small tokenizer for the tests, 这是测试用的分词器。") * 3
TOKENIZER_TEXT = "Hello, 世界! The model's answer: 你好，模型。\nIt's 2024 — tests   pass."
CHATML_TEMPLATE = ("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}"
                   "{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}")

def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(0xA1, 0xAC + 1)) + list(range(0xAE, 0xFF + 1))
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b); cs.append(256 + n); n += 1
    return dict(zip(bs, map(chr, cs)))

def bpe(word, ranks):
    symbols = list(word)
    while len(symbols) > 1:
        pairs = [(ranks.get((a, b), 1 << 30), i) for i, (a, b) in enumerate(zip(symbols, symbols[1:]))]
        rank, i = min(pairs)
        if rank == 1 << 30:
            break
        symbols = symbols[:i] + [symbols[i] + symbols[i + 1]] + symbols[i + 2:]
    return symbols

def tokenizer_fixture(out, merges_count=80):
    import re, unicodedata
    b2u = bytes_to_unicode()
    split = lambda text: re.findall(QWEN2_PATTERN_PY, text)
    words = ["".join(b2u[b] for b in chunk.encode("utf-8")) for chunk in split(TOKENIZER_CORPUS)]
    vocab = {b2u[b]: b for b in range(256)}
    merges, ranks = [], {}
    for _ in range(merges_count):  # train: repeatedly merge the most frequent adjacent pair
        counts = {}
        for w in words:
            syms = bpe(w, ranks)
            for pair in zip(syms, syms[1:]):
                counts[pair] = counts.get(pair, 0) + 1
        if not counts:
            break
        pair = max(sorted(counts), key=lambda p: counts[p])
        ranks[pair] = len(merges)
        merges.append(pair)
        vocab[pair[0] + pair[1]] = len(vocab)
    added = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    added_tokens = [{"id": len(vocab) + i, "content": t, "single_word": False, "lstrip": False, "rstrip": False,
                     "normalized": False, "special": True} for i, t in enumerate(added)]
    tokenizer = {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": added_tokens,
        "normalizer": {"type": "NFC"},
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": QWEN2_PATTERN}, "behavior": "Isolated", "invert": False},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False}]},
        "post_processor": None, "decoder": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": False, "use_regex": False},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "", "end_of_word_suffix": "",
                  "fuse_unk": False, "byte_fallback": False, "vocab": vocab, "merges": [a + " " + b for a, b in merges]},
    }
    folder = os.path.join(out, "tokenizer")
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tokenizer, f, ensure_ascii=False, indent=1)
    with open(os.path.join(folder, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump({"chat_template": CHATML_TEMPLATE, "eos_token": "<|im_end|>", "model_max_length": 64}, f, ensure_ascii=False, indent=1)
    text = unicodedata.normalize("NFC", TOKENIZER_TEXT)
    ids = [vocab[s] for chunk in split(text) for s in bpe("".join(b2u[b] for b in chunk.encode("utf-8")), ranks)]
    with open(os.path.join(folder, "expected.json"), "w", encoding="utf-8") as f:
        json.dump({"text": TOKENIZER_TEXT, "ids": ids}, f, ensure_ascii=False, indent=1)
    print(f"tokenizer: {len(vocab)} tokens + {len(added)} added, {len(ids)} ids for the test text")

def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="tests/ChatForge.Import.Tests/Fixtures")
    out = parser.parse_args().out
    torch.set_grad_enabled(False)
    gen = torch.Generator().manual_seed(1234)

    cfg = llama_config("LlamaForCausalLM", "llama", tie=False, kv_heads=2)
    w = llama_weights(cfg, gen, qkv_bias=False)
    save(out, "llama", cfg, w, llama_logits(cfg, w, TOKENS))
    save(out, "llama-sharded", cfg, w, llama_logits(cfg, w, TOKENS), shards=3)

    cfg = llama_config("Qwen2ForCausalLM", "qwen2", tie=True, kv_heads=2, rope_theta=1000000.0,
                       use_sliding_window=False, sliding_window=64, max_window_layers=2)
    w = llama_weights(cfg, gen, qkv_bias=True)
    save(out, "qwen2", cfg, w, llama_logits(cfg, w, TOKENS))
    # The same architecture stored in bf16: the expected logits are those of the bf16-rounded weights in float32 math.
    wb = bf16_round(w)
    save(out, "qwen2-bf16", dict(cfg, torch_dtype="bfloat16"), wb, llama_logits(cfg, wb, TOKENS), dtype="BF16")

    cfg = llama_config("MistralForCausalLM", "mistral", tie=False, kv_heads=1, sliding_window=4096)
    w = llama_weights(cfg, gen, qkv_bias=False)
    save(out, "mistral", cfg, w, llama_logits(cfg, w, TOKENS))

    cfg = {"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "vocab_size": VOCAB, "n_embd": 32, "n_layer": 2,
           "n_head": 4, "n_inner": 64, "n_positions": 32, "n_ctx": 32, "layer_norm_epsilon": 1e-5,
           "activation_function": "gelu_new", "tie_word_embeddings": True, "torch_dtype": "float32"}
    w = gpt2_weights(cfg, gen)
    save(out, "gpt2", cfg, w, gpt2_logits(cfg, w, TOKENS))

    tokenizer_fixture(out)

    # Llama 3.1/3.2 RoPE scaling, sized so the 4 frequencies of head_dim 8 fall in every band
    # (wavelengths 6.3 and 63 kept, 628 blended, 6283 stretched by the factor). Own generator: earlier fixtures unchanged.
    gen3 = torch.Generator().manual_seed(4321)
    cfg = llama_config("LlamaForCausalLM", "llama", tie=False, kv_heads=2, max_position_embeddings=64,
                       rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0,
                                     "original_max_position_embeddings": 1024})
    w = llama_weights(cfg, gen3, qkv_bias=False)
    save(out, "llama3-rope", cfg, w, llama_logits(cfg, w, LONG_TOKENS), tokens=LONG_TOKENS)

if __name__ == "__main__":
    main()
