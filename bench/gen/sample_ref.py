"""PyTorch peer for npm run bench:sample: nanoGPT sample.py-style generation with gpt_ref.py's GPT.

Each new token recomputes the whole (cropped) context, as nanoGPT's GPT.generate does:
    idx_cond = idx[:, -block:]; logits = forward(idx_cond)[:, -1, :] / temperature; top-k; multinomial

    source ../shared/bench/torch-baseline/env.sh
    /usr/bin/python3 bench/gen/sample_ref.py --gpt-ref ../shared/bench/torch-baseline/gpt_ref.py --mode gen --new-tokens 256
    /usr/bin/python3 bench/gen/sample_ref.py ... --mode ttft --n-layer 4 --block 1024 --prompt-len 1000

Prints one JSON line: {"mode", "tokens", "seconds", "tok_per_s"} or {"mode", "ttft_ms": [...]}.
"""
import argparse, json, time

import torch
import torch.nn.functional as F

from gpt_peer import add_gpt_args, gpt_from_args


@torch.no_grad()
def last_logits(model, idx):
    """Logits (B, V) after the last position of idx (B, T): gpt_ref's GPT without the loss."""
    B, T = idx.shape
    x = model.wte(idx) + model.wpe(torch.arange(T, dtype=torch.long))  # (B, T, C)
    for block in model.h:
        x = block(x)  # (B, T, C)
    return model.lm_head(model.ln_f(x[:, [-1], :]))[:, -1, :]  # (B, V), lm_head on the last position only


@torch.no_grad()
def generate(model, idx, new_tokens, block, temperature, top_k):
    for _ in range(new_tokens):
        logits = last_logits(model, idx[:, -block:]) / temperature  # (B, V)
        if top_k:
            v, _ = torch.topk(logits, min(top_k, logits.size(-1)))
            logits[logits < v[:, [-1]]] = -float('inf')
        nxt = torch.multinomial(F.softmax(logits, dim=-1), num_samples=1)  # (B, 1)
        idx = torch.cat((idx, nxt), dim=1)
    return idx


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--mode', choices=['gen', 'ttft'], default='gen')
    add_gpt_args(p, new_tokens=256, prompt_len=1)
    a = p.parse_args()
    model = gpt_from_args(a)
    prompt = torch.randint(0, a.vocab, (1, a.prompt_len))
    if a.mode == 'gen':
        generate(model, prompt, 8, a.block, 0.8, 200)  # warm-up
        t0 = time.perf_counter()
        out = generate(model, prompt, a.new_tokens, a.block, 0.8, 200)
        s = time.perf_counter() - t0
        print(json.dumps({'mode': 'gen', 'tokens': out.shape[1] - a.prompt_len, 'seconds': s, 'tok_per_s': a.new_tokens / s}))
    else:
        generate(model, prompt, 1, a.block, 0.8, 200)  # warm-up
        ms = []
        for _ in range(a.repeats):
            t0 = time.perf_counter()
            generate(model, prompt, 1, a.block, 0.8, 200)
            ms.append((time.perf_counter() - t0) * 1000)
        print(json.dumps({'mode': 'ttft', 'ttft_ms': ms}))


if __name__ == '__main__':
    main()
