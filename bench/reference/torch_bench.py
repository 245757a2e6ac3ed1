#!/usr/bin/env python3
"""PyTorch CPU reference for ChatForge's `bench train` and `bench decode`.

Same model shapes and measurements as the C# benchmarks, printed as one JSON object:
  python3 bench/reference/torch_bench.py train --config a|b [--steps N]
  python3 bench/reference/torch_bench.py decode --config b --batch 1|8
Uses Debian's python3-torch (apt-get install python3-torch); threads = all cores unless --threads.
"""
import argparse, json, math, os, time

import torch
import torch.nn as nn
import torch.nn.functional as F

CONFIGS = {
    # GPT-2 style: LayerNorm, learned positions, GELU MLP 4x, biases, tied embeddings.
    "a": dict(vocab=8192, d=256, layers=6, heads=4, T=256, batch=16),
    "b": dict(vocab=8192, d=512, layers=8, heads=8, T=512, batch=8),
}


class Block(nn.Module):
    def __init__(self, d, heads):
        super().__init__()
        self.heads = heads
        self.ln1 = nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.out = nn.Linear(d, d)
        self.ln2 = nn.LayerNorm(d)
        self.up = nn.Linear(d, 4 * d)
        self.down = nn.Linear(4 * d, d)

    def attend(self, x, cache=None):
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)
        q, k, v = (t.view(B, T, self.heads, C // self.heads).transpose(1, 2) for t in (q, k, v))
        if cache is not None:
            if cache.get("k") is not None:
                k = torch.cat([cache["k"], k], dim=2)
                v = torch.cat([cache["v"], v], dim=2)
            cache["k"], cache["v"] = k, v
        # torch 1.13 (Debian) has no scaled_dot_product_attention: the classic masked softmax.
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(q.shape[-1]))
        if T > 1:  # prefill/training: causal over the T new positions (the cache, if any, is empty here)
            att = att.masked_fill(torch.ones(T, T, dtype=torch.bool).triu(1), float("-inf"))
        y = F.softmax(att, dim=-1) @ v
        return self.out(y.transpose(1, 2).contiguous().view(B, T, C))

    def forward(self, x, cache=None):
        x = x + self.attend(self.ln1(x), cache)
        return x + self.down(F.gelu(self.up(self.ln2(x)), approximate="tanh"))


class GPT(nn.Module):
    def __init__(self, vocab, d, layers, heads, context):
        super().__init__()
        self.tok = nn.Embedding(vocab, d)
        self.pos = nn.Embedding(context, d)
        self.blocks = nn.ModuleList(Block(d, heads) for _ in range(layers))
        self.ln_f = nn.LayerNorm(d)

    def forward(self, idx, start=0, caches=None):
        T = idx.shape[1]
        x = self.tok(idx) + self.pos(torch.arange(start, start + T))
        for i, block in enumerate(self.blocks):
            x = block(x, None if caches is None else caches[i])
        return self.ln_f(x) @ self.tok.weight.t()  # tied LM head


def params(model):
    return sum(p.numel() for p in model.parameters())


def train(cfg, steps, warmup):
    model = GPT(cfg["vocab"], cfg["d"], cfg["layers"], cfg["heads"], cfg["T"])
    opt = torch.optim.AdamW(model.parameters(), lr=3e-4, weight_decay=0.1)
    B, T = cfg["batch"], cfg["T"]
    x = torch.randint(0, cfg["vocab"], (B, T))
    y = torch.randint(0, cfg["vocab"], (B, T))
    times = []
    for step in range(warmup + steps):
        t0 = time.perf_counter()
        logits = model(x)
        loss = F.cross_entropy(logits.view(-1, cfg["vocab"]), y.view(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step >= warmup:
            times.append(time.perf_counter() - t0)
    n = params(model)
    # FLOPs per token for forward+backward: 6·N (matmuls incl. the LM head) + 12·L·d·T (attention scores and values).
    flops_per_token = 6 * n + 12 * cfg["layers"] * cfg["d"] * T
    step_s = sorted(times)[len(times) // 2]
    return {"params": n, "ms_per_step": step_s * 1e3, "tokens_per_s": B * T / step_s,
            "gflops": flops_per_token * B * T / step_s / 1e9}


@torch.no_grad()
def decode(cfg, batch, prompt_len, new_tokens):
    model = GPT(cfg["vocab"], cfg["d"], cfg["layers"], cfg["heads"], prompt_len + new_tokens).eval()
    prompt = torch.randint(0, cfg["vocab"], (batch, prompt_len))
    best_prefill, best_decode = math.inf, math.inf
    for _ in range(2):  # first round warms up
        caches = [dict() for _ in model.blocks]
        t0 = time.perf_counter()
        logits = model(prompt, 0, caches)
        t1 = time.perf_counter()
        token = logits[:, -1].argmax(-1, keepdim=True)
        for i in range(new_tokens):
            logits = model(token, prompt_len + i, caches)
            token = logits[:, -1].argmax(-1, keepdim=True)
        t2 = time.perf_counter()
        best_prefill, best_decode = min(best_prefill, t1 - t0), min(best_decode, t2 - t1)
    return {"params": params(model), "prefill_tokens_per_s": batch * prompt_len / best_prefill,
            "decode_tokens_per_s": batch * new_tokens / best_decode}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["train", "decode"])
    ap.add_argument("--config", default="a", choices=sorted(CONFIGS))
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--prompt", type=int, default=256)
    ap.add_argument("--new-tokens", type=int, default=128)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    args = ap.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    cfg = CONFIGS[args.config]
    result = {"reference": "pytorch-cpu", "torch": torch.__version__, "threads": torch.get_num_threads(), "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE"),
              "mode": args.mode, "config": args.config}
    if args.mode == "train":
        result.update(train(cfg, args.steps, args.warmup))
    else:
        result.update(batch=args.batch, prompt=args.prompt, new_tokens=args.new_tokens)
        result.update(decode(cfg, args.batch, args.prompt, args.new_tokens))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
