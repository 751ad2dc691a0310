"""PyTorch peer for npm run bench rollout: G answers to one prompt decoded as one batch on a KV cache.

gpt_ref.py's GPT (random init, float32), run without autograd: the prompt is prefilled once (B = 1) and its
keys/values copied into G streams of a preallocated cache (L, G, nh, block, hd); then each step samples G
tokens (softmax at temperature 1, torch.multinomial) and runs one (G, 1) forward that writes each stream's
new key/value at slot pos and attends over slots 0..pos. The last token needs no forward pass. Before
timing, the cached logits are checked against gpt_ref's full forward on the same tokens.

    source ../shared/bench/torch-baseline/env.sh
    /usr/bin/python3 bench/gen/rollout_ref.py --gpt-ref ../shared/bench/torch-baseline/gpt_ref.py \
        --n-layer 6 --n-head 6 --n-embd 384 --block 256 --groups 8 --new-tokens 64 --prompt-len 16

Prints one JSON line: {"ms": [...], "tok_per_s": [...]} (one entry per repetition, G * new_tokens tokens each).
"""
import argparse, json, math, time

import torch
import torch.nn.functional as F

from gpt_peer import add_gpt_args, gpt_from_args


def qkv(blk, h, nh):
    """q, k, v (B, nh, T, hd) of LayerNormed h (B, T, C)."""
    B, T, C = h.shape
    q, k, v = blk.attn.c_attn(h).split(C, dim=2)
    return [t.view(B, T, nh, C // nh).transpose(1, 2) for t in (q, k, v)]


@torch.no_grad()
def prefill(model, prompt, G, Kc, Vc, nh):
    """Runs prompt (1, T), writes its keys/values into every stream's slots 0..T-1; logits (G, V) after it."""
    T = prompt.shape[1]
    x = model.wte(prompt) + model.wpe(torch.arange(T))  # (1, T, C)
    causal = torch.tril(torch.ones(T, T, dtype=torch.bool))
    for l, blk in enumerate(model.h):
        q, k, v = qkv(blk, blk.ln_1(x), nh)  # (1, nh, T, hd)
        Kc[l, :, :, :T] = k
        Vc[l, :, :, :T] = v
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(q.size(-1)))  # (1, nh, T, T)
        att = F.softmax(att.masked_fill(~causal, float('-inf')), dim=-1)
        y = (att @ v).transpose(1, 2).reshape(1, T, -1)  # (1, T, C)
        x = x + blk.attn.c_proj(y)
        x = x + blk.mlp(blk.ln_2(x))
    return model.lm_head(model.ln_f(x[:, -1, :])).expand(G, -1)  # (G, V)


@torch.no_grad()
def decode(model, tokens, pos, Kc, Vc, nh):
    """One token per stream, tokens (G, 1) at slot pos; logits (G, V)."""
    G = tokens.shape[0]
    x = model.wte(tokens) + model.wpe(torch.tensor([pos]))  # (G, 1, C)
    for l, blk in enumerate(model.h):
        q, k, v = qkv(blk, blk.ln_1(x), nh)  # (G, nh, 1, hd)
        Kc[l, :, :, pos] = k[:, :, 0]
        Vc[l, :, :, pos] = v[:, :, 0]
        K, V = Kc[l, :, :, : pos + 1], Vc[l, :, :, : pos + 1]  # (G, nh, pos+1, hd)
        att = F.softmax((q @ K.transpose(-2, -1)) * (1.0 / math.sqrt(q.size(-1))), dim=-1)  # (G, nh, 1, pos+1)
        y = (att @ V).transpose(1, 2).reshape(G, 1, -1)  # (G, 1, C)
        x = x + blk.attn.c_proj(y)
        x = x + blk.mlp(blk.ln_2(x))
    return model.lm_head(model.ln_f(x[:, -1, :]))  # (G, V)


@torch.no_grad()
def rollout(model, prompt, G, new_tokens, block, nh, temperature=1.0, trace=None):
    """G answers of new_tokens tokens each (G, new_tokens)."""
    C = model.wte.weight.shape[1]
    L = len(model.h)
    Kc = torch.zeros(L, G, nh, block, C // nh)
    Vc = torch.zeros(L, G, nh, block, C // nh)
    logits = prefill(model, prompt, G, Kc, Vc, nh)
    out = []
    for i in range(new_tokens):
        if trace is not None:
            trace.append(logits)
        nxt = torch.multinomial(F.softmax(logits / temperature, dim=-1), num_samples=1)  # (G, 1)
        out.append(nxt)
        if i < new_tokens - 1:
            logits = decode(model, nxt, prompt.shape[1] + i, Kc, Vc, nh)
    return torch.cat(out, dim=1)


@torch.no_grad()
def check(model, prompt, G, block, nh):
    """The cached logits equal gpt_ref's full forward on prompt + answer (a peer that computes the model)."""
    trace = []
    ans = rollout(model, prompt, G, 6, block, nh, trace=trace)
    for i, logits in enumerate(trace):
        seq = torch.cat([prompt.expand(G, -1), ans[:, :i]], dim=1)  # (G, T + i)
        x = model.wte(seq) + model.wpe(torch.arange(seq.shape[1]))
        for blk in model.h:
            x = blk(x)
        full = model.lm_head(model.ln_f(x[:, -1, :]))
        err = (full - logits).abs().max().item()
        assert err < 1e-4 * max(1.0, full.abs().max().item()), f'step {i}: cached logits differ by {err}'


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--groups', type=int, default=8)
    add_gpt_args(p, new_tokens=64, prompt_len=16)
    a = p.parse_args()
    model = gpt_from_args(a)
    prompt = torch.randint(0, a.vocab, (1, a.prompt_len))
    check(model, prompt, a.groups, a.block, a.n_head)
    rollout(model, prompt, a.groups, 8, a.block, a.n_head)  # warm-up
    ms = []
    for _ in range(a.repeats):
        t0 = time.perf_counter()
        out = rollout(model, prompt, a.groups, a.new_tokens, a.block, a.n_head)
        ms.append((time.perf_counter() - t0) * 1000)
        assert out.shape == (a.groups, a.new_tokens)
    n = a.groups * a.new_tokens
    print(json.dumps({'ms': ms, 'tok_per_s': [n / (t / 1000) for t in ms]}))


if __name__ == '__main__':
    main()
