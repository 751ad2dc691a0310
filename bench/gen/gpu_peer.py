"""The PyTorch peer of bench/gpu: the GPT of the PyTorch export (src/engine/export/train.py, GPT-2 in Hugging
Face naming, tied head) timed on a device, float32 eager, as LLM Lens's GPU path runs it.

    python3 bench/gen/gpu_peer.py --device cuda --vocab 65 --n-layer 6 --n-head 6 --n-embd 384 --block 256 \
        --batch 16 --steps 20 --new-tokens 64
    # {"device": "cuda", "train_ms": [...], "decode_tok_s": [...]}   one JSON line on stdout

Training: AdamW (betas 0.9/0.99, weight decay 0.1 on 2-D weights) with the gradient clipped to norm 1, on
random token batches; each step's milliseconds after 3 warm-up steps (synchronised). Decoding: greedy, a
16-token prompt then --new-tokens tokens, recomputing the context each token (the export's GPT has no
key/value cache; at these lengths a GPU is launch-bound either way), tokens/s of each of --repeats runs.
"""
import argparse
import importlib.util
import json
import os
import time

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
TRAIN_PY = os.path.join(HERE, '..', '..', 'src', 'engine', 'export', 'train.py')


def load_gpt():
    spec = importlib.util.spec_from_file_location('llm_lens_train', TRAIN_PY)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.GPT


def main():
    p = argparse.ArgumentParser()
    p.add_argument('--device', default='cuda')
    p.add_argument('--vocab', type=int, default=65)
    p.add_argument('--n-layer', type=int, default=6)
    p.add_argument('--n-head', type=int, default=6)
    p.add_argument('--n-embd', type=int, default=384)
    p.add_argument('--block', type=int, default=256)
    p.add_argument('--batch', type=int, default=16)
    p.add_argument('--steps', type=int, default=20)
    p.add_argument('--new-tokens', type=int, default=64)
    p.add_argument('--repeats', type=int, default=3)
    p.add_argument('--threads', type=int, default=2)
    a = p.parse_args()
    dev = torch.device(a.device)
    torch.set_num_threads(a.threads)
    torch.manual_seed(1337)
    m = {'vocabSize': a.vocab, 'blockSize': a.block, 'nLayer': a.n_layer, 'nHead': a.n_head,
         'nEmbd': a.n_embd, 'bias': True, 'gelu': 'none'}
    model = load_gpt()(m).to(dev)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    other = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{'params': decay, 'weight_decay': 0.1}, {'params': other, 'weight_decay': 0.0}],
                            lr=1e-3, betas=(0.9, 0.99))
    sync = torch.cuda.synchronize if dev.type == 'cuda' else (lambda: None)
    g = torch.Generator(device='cpu').manual_seed(3)

    def step():
        x = torch.randint(a.vocab, (a.batch, a.block), generator=g).to(dev)
        y = torch.randint(a.vocab, (a.batch, a.block), generator=g).to(dev)
        loss = model(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return loss.item()  # the loss comes back each step, as LLM Lens's does

    model.train()
    for _ in range(3):
        step()
    train_ms = []
    for _ in range(a.steps):
        sync()
        t0 = time.perf_counter()
        step()
        sync()
        train_ms.append((time.perf_counter() - t0) * 1000)

    model.eval()
    decode = []
    with torch.no_grad():
        for r in range(a.repeats + 1):
            ctx = torch.randint(a.vocab, (1, 16), generator=g).to(dev)
            sync()
            t0 = time.perf_counter()
            for _ in range(a.new_tokens):
                logits = model(ctx[:, -a.block:])
                nxt = logits[:, -1].argmax(-1, keepdim=True)
                ctx = torch.cat([ctx, nxt], dim=1)
                nxt.item()  # the token comes back to the host each step, as a sampler needs
            sync()
            if r:  # the first run warms up
                decode.append(a.new_tokens / (time.perf_counter() - t0))
    print(json.dumps({'device': str(dev), 'torch': torch.__version__, 'train_ms': train_ms, 'decode_tok_s': decode}))


if __name__ == '__main__':
    main()
