#!/usr/bin/env python3
"""Trains an LLM Lens run with PyTorch: a nanoGPT-style GPT-2, written by `llm-lens export-torch`.

  torchrun --standalone --nproc_per_node 1 train.py       # one GPU, or the CPU
  torchrun --standalone --nproc_per_node 8 train.py       # 8 GPUs of one machine (DDP)
  python3 train.py --max-iters 20                         # one process, no torchrun

run.json beside this file holds the run: the model's shape, the data (data/train.bin and data/val.bin,
nanoGPT's token files), the hyperparameters LLM Lens resolved (warmup + cosine learning rate, AdamW with
weight decay on 2-D weights, gradient clipping, batch size, evaluation, samples, checkpoints). The global
batch stays batchSize x gradAccum rows per step whatever the number of processes: each process takes its
share of the rows, so the losses match a run on one process.

It writes into its folder (or --out-dir) what LLM Lens's own runs write, so the extension's dashboard,
Runs view, Sampler and Checkpoint Inspector open it as they open theirs:
  metrics.jsonl          one event a line: start, step, eval, sample, checkpoint, done, error
  checkpoints/step-N/    model.safetensors (Hugging Face GPT-2 names, Conv1D [in, out]), config.json, the
                         tokenizer files, trainer.safetensors (AdamW moments) and trainer.json; written as
                         .step-N.tmp-* and renamed, so a crash never leaves half a checkpoint
Needs torch and numpy, nothing else (safetensors are written and read here).
"""
import argparse
import contextlib
import json
import math
import os
import shutil
import signal
import struct
import sys
import time

import numpy as np
import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
RUN_FORMAT = 'llm-lens-torch-run'
TRAINER_FORMAT = 'llm-lens-trainer'


# ----------------------------------------------------------------------------------------------------
# The model: GPT-2 with Hugging Face's parameter names (transformer.h.0.attn.c_attn.weight …)


class Conv1D(nn.Module):
    """GPT-2's linear layer as Hugging Face stores it: weight (in, out), y = x @ W + b."""

    def __init__(self, n_in, n_out, bias):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(n_in, n_out))
        self.bias = nn.Parameter(torch.zeros(n_out)) if bias else None

    def forward(self, x):
        y = x @ self.weight
        return y if self.bias is None else y + self.bias


class LayerNorm(nn.Module):
    """LayerNorm with an optional bias (eps 1e-5, as GPT-2)."""

    def __init__(self, n, bias):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n))
        self.bias = nn.Parameter(torch.zeros(n)) if bias else None

    def forward(self, x):
        return F.layer_norm(x, self.weight.shape, self.weight, self.bias, 1e-5)


class Attention(nn.Module):
    def __init__(self, m):
        super().__init__()
        self.n_head = m['nHead']
        self.c_attn = Conv1D(m['nEmbd'], 3 * m['nEmbd'], m['bias'])
        self.c_proj = Conv1D(m['nEmbd'], m['nEmbd'], m['bias'])

    def forward(self, x):
        B, T, C = x.size()  # batch size, sequence length, embedding dimensionality
        hd = C // self.n_head
        q, k, v = self.c_attn(x).split(C, dim=2)  # (B, T, C) each
        q = q.view(B, T, self.n_head, hd).transpose(1, 2)  # (B, nh, T, hd)
        k = k.view(B, T, self.n_head, hd).transpose(1, 2)  # (B, nh, T, hd)
        v = v.view(B, T, self.n_head, hd).transpose(1, 2)  # (B, nh, T, hd)
        if hasattr(F, 'scaled_dot_product_attention'):  # torch >= 2.0: flash attention where it can
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)  # (B, nh, T, hd)
        else:
            att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(hd))  # (B, nh, T, T)
            causal = torch.ones(T, T, dtype=torch.bool, device=x.device).tril()
            att = F.softmax(att.masked_fill(~causal, float('-inf')), dim=-1)
            y = att @ v  # (B, nh, T, hd)
        y = y.transpose(1, 2).contiguous().view(B, T, C)  # (B, T, C)
        return self.c_proj(y)


class MLP(nn.Module):
    def __init__(self, m):
        super().__init__()
        self.approximate = 'tanh' if m['gelu'] == 'tanh' else 'none'
        self.c_fc = Conv1D(m['nEmbd'], 4 * m['nEmbd'], m['bias'])
        self.c_proj = Conv1D(4 * m['nEmbd'], m['nEmbd'], m['bias'])

    def forward(self, x):
        return self.c_proj(F.gelu(self.c_fc(x), approximate=self.approximate))


class Block(nn.Module):
    def __init__(self, m):
        super().__init__()
        self.ln_1 = LayerNorm(m['nEmbd'], m['bias'])
        self.attn = Attention(m)
        self.ln_2 = LayerNorm(m['nEmbd'], m['bias'])
        self.mlp = MLP(m)

    def forward(self, x):
        x = x + self.attn(self.ln_1(x))
        return x + self.mlp(self.ln_2(x))


class GPT(nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m
        self.transformer = nn.ModuleDict(
            dict(
                wte=nn.Embedding(m['vocabSize'], m['nEmbd']),
                wpe=nn.Embedding(m['blockSize'], m['nEmbd']),
                h=nn.ModuleList([Block(m) for _ in range(m['nLayer'])]),
                ln_f=LayerNorm(m['nEmbd'], m['bias']),
            )
        )
        # GPT-2's initialisation, as LLM Lens: N(0, 0.02), residual projections N(0, 0.02/sqrt(2 n_layer))
        for name, p in self.named_parameters():
            if p.dim() == 2:
                std = 0.02 / math.sqrt(2 * m['nLayer']) if name.endswith('c_proj.weight') else 0.02
                nn.init.normal_(p, 0.0, std)

    def forward(self, idx, targets=None):
        B, T = idx.size()
        pos = torch.arange(T, device=idx.device)  # (T)
        x = self.transformer.wte(idx) + self.transformer.wpe(pos)  # (B, T, C)
        for block in self.transformer.h:
            x = block(x)
        x = self.transformer.ln_f(x)  # (B, T, C)
        logits = F.linear(x, self.transformer.wte.weight)  # (B, T, V): lm_head tied to wte
        if targets is None:
            return logits
        return F.cross_entropy(logits.view(-1, logits.size(-1)).float(), targets.view(-1))


# ----------------------------------------------------------------------------------------------------
# safetensors without the safetensors package: 8 bytes of header length, the JSON header, the bytes


def write_safetensors(path, tensors, metadata):
    header = {'__metadata__': metadata}
    offset = 0
    for name, t in tensors.items():
        n = t.numel() * 4
        header[name] = {'dtype': 'F32', 'shape': list(t.shape), 'data_offsets': [offset, offset + n]}
        offset += n
    text = json.dumps(header, separators=(',', ':')).encode('utf-8')
    text += b' ' * (-len(text) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(text)))
        f.write(text)
        for t in tensors.values():
            f.write(t.detach().float().cpu().contiguous().numpy().astype('<f4').tobytes())
        f.flush()
        os.fsync(f.fileno())


DTYPES = {'F32': '<f4', 'F16': '<f2', 'F64': '<f8'}


def read_safetensors(path):
    with open(path, 'rb') as f:
        (n,) = struct.unpack('<Q', f.read(8))
        header = json.loads(f.read(n))
        base = 8 + n
        out = {}
        for name, e in header.items():
            if name == '__metadata__':
                continue
            a, b = e['data_offsets']
            f.seek(base + a)
            raw = f.read(b - a)
            if e['dtype'] == 'BF16':  # the upper half of a float32
                u = np.frombuffer(raw, dtype='<u2').astype(np.uint32) << 16
                arr = u.view(np.float32)
            elif e['dtype'] in DTYPES:
                arr = np.frombuffer(raw, dtype=DTYPES[e['dtype']]).astype(np.float32)
            else:
                sys.exit(f'{path}: {name} is {e["dtype"]}; only float tensors load here')
            out[name] = torch.from_numpy(arr.copy()).view(e['shape'])
    return out


def fsync_write(path, text):
    with open(path, 'w') as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


# ----------------------------------------------------------------------------------------------------
# The run


def parse_args():
    p = argparse.ArgumentParser(description='Train an LLM Lens run with PyTorch (see run.json).')
    p.add_argument('--run', default=os.path.join(HERE, 'run.json'), help='the run (default: run.json here)')
    p.add_argument('--out-dir', default=HERE, help='where metrics.jsonl and checkpoints/ go (default: here)')
    p.add_argument('--device', help='cuda or cpu (default: cuda when there is one)')
    p.add_argument('--dtype', choices=['float32', 'bfloat16'], default='float32',
                   help='bfloat16: autocast on CUDA (faster; LLM Lens trains in float32)')
    p.add_argument('--compile', action='store_true', help='torch.compile the model (torch >= 2)')
    p.add_argument('--max-iters', type=int, help='optimizer steps (run.json: maxIters)')
    p.add_argument('--batch-size', type=int, help='rows per micro-batch (run.json: batchSize)')
    p.add_argument('--grad-accum', type=int, help='micro-batches per step (run.json: gradAccum)')
    p.add_argument('--eval-interval', type=int, help='steps between evals; 0: none')
    p.add_argument('--eval-iters', type=int, help='batches per eval')
    p.add_argument('--sample-interval', type=int, help='steps between samples; 0: none')
    p.add_argument('--checkpoint-interval', type=int, help='steps between checkpoints; 0: at the end')
    p.add_argument('--log-interval', type=int, default=10, help='steps between printed loss lines')
    p.add_argument('--init-from', help="a checkpoint folder: start from its weights with a new optimizer")
    p.add_argument('--resume', help='a checkpoint folder: continue its run (weights, AdamW moments, step)')
    p.add_argument('--offsets', help="replay an LLM Lens run's batches: its offsets.i64 (int64 row starts)")
    p.add_argument('--dump-logits', help='at the end, write the logits of the first block of val.bin here (JSON)')
    return p.parse_args()


def load_run(args):
    with open(args.run) as f:
        run = json.load(f)
    if run.get('format') != RUN_FORMAT:
        sys.exit(f'{args.run} is not an exported LLM Lens run (format {run.get("format")!r}): export it again')
    t = run['train']
    for key, flag in [('maxIters', 'max_iters'), ('batchSize', 'batch_size'), ('gradAccum', 'grad_accum'),
                      ('evalInterval', 'eval_interval'), ('evalIters', 'eval_iters'),
                      ('sampleInterval', 'sample_interval'), ('checkpointInterval', 'checkpoint_interval')]:
        v = getattr(args, flag)
        if v is not None:
            if v < (1 if key in ('maxIters', 'batchSize', 'gradAccum') else 0):
                sys.exit(f'--{flag.replace("_", "-")} {v} is too small')
            t[key] = v
    base = os.path.dirname(os.path.abspath(args.run))
    run['base'] = base
    if args.init_from is None and args.resume is None:
        args.init_from = os.path.join(base, run['initFrom']) if run.get('initFrom') else None
        args.resume = os.path.join(base, run['resumeFrom']) if run.get('resumeFrom') else None
    return run


def learning_rate(it, t):
    """Linear warmup, cosine decay to minLr at lrDecayIters, then minLr (LLM Lens's train/schedule.ts)."""
    if not t['decayLr']:
        return t['lr']
    if it < t['warmupIters']:
        return t['lr'] * (it + 1) / (t['warmupIters'] + 1)
    if it > t['lrDecayIters']:
        return t['minLr']
    ratio = (it - t['warmupIters']) / max(1, t['lrDecayIters'] - t['warmupIters'])
    return t['minLr'] + 0.5 * (1.0 + math.cos(math.pi * ratio)) * (t['lr'] - t['minLr'])


def rows_of(data, offsets, T):
    """Inputs and targets (rows, T) int64 of the windows starting at offsets, as nanoGPT's get_batch."""
    x = np.stack([data[o:o + T] for o in offsets]).astype(np.int64)
    y = np.stack([data[o + 1:o + 1 + T] for o in offsets]).astype(np.int64)
    return torch.from_numpy(x), torch.from_numpy(y)


def main():
    args = parse_args()
    run = load_run(args)
    m, t = run['model'], run['train']
    T = m['blockSize']

    ddp = int(os.environ.get('WORLD_SIZE', '1')) > 1
    if ddp:
        use_cuda = torch.cuda.is_available() and args.device != 'cpu'
        dist.init_process_group(backend='nccl' if use_cuda else 'gloo')
        rank, world = dist.get_rank(), dist.get_world_size()
        local = int(os.environ.get('LOCAL_RANK', '0'))
        device = f'cuda:{local}' if use_cuda else 'cpu'
        if use_cuda:
            torch.cuda.set_device(device)
        else:
            torch.set_num_threads(max(1, (os.cpu_count() or 1) // int(os.environ.get('LOCAL_WORLD_SIZE', world))))
    else:
        rank, world = 0, 1
        device = args.device or ('cuda' if torch.cuda.is_available() else 'cpu')
    master = rank == 0
    out_dir = os.path.abspath(args.out_dir)
    metrics = os.path.join(out_dir, 'metrics.jsonl')

    def log(event):
        event['time'] = int(time.time() * 1000)
        if master:
            with open(metrics, 'a') as f:
                f.write(json.dumps(event) + '\n')
        return event

    def say(line):
        if master:
            print(line, flush=True)

    rows = t['batchSize'] * t['gradAccum']  # rows per optimizer step, over all processes
    if rows % world:
        sys.exit(f'batchSize x gradAccum = {rows} rows per step do not split over {world} processes: '
                 f'run a number of processes that divides {rows}, or set --batch-size / --grad-accum')
    mine = rows // world
    micro = max(d for d in range(1, min(t['batchSize'], mine) + 1) if mine % d == 0)
    accum = mine // micro

    data_dir = os.path.join(run['base'], run['data']['dir'])
    dtype = np.uint16 if run['data']['dtype'] == 'uint16' else np.uint32
    train = np.memmap(os.path.join(data_dir, 'train.bin'), dtype=dtype, mode='r')
    val = np.memmap(os.path.join(data_dir, 'val.bin'), dtype=dtype, mode='r')
    replay = np.fromfile(args.offsets, dtype='<i8') if args.offsets else None

    torch.manual_seed(t['seed'])
    model = GPT(m)
    start_step, tokens_before, elapsed_before, moments = 0, 0, 0, None
    if args.resume or args.init_from:
        src = args.resume or args.init_from
        weights = read_safetensors(os.path.join(src, 'model.safetensors'))
        own = dict(model.named_parameters())
        for name, p in own.items():
            w = weights.get(name, weights.get(name[len('transformer.'):]))
            if w is None or tuple(w.shape) != tuple(p.shape):
                sys.exit(f'{src}/model.safetensors: {name} is {"missing" if w is None else list(w.shape)}, '
                         f'this model needs {list(p.shape)}: use a checkpoint of this run')
            with torch.no_grad():
                p.copy_(w)
        if args.resume:
            with open(os.path.join(src, 'trainer.json')) as f:
                trainer = json.load(f)
            start_step, tokens_before = trainer['step'], trainer.get('tokensSeen', 0)
            elapsed_before = trainer.get('elapsedMs', 0)
            moments = read_safetensors(os.path.join(src, 'trainer.safetensors'))
    model.to(device)
    raw = model
    if args.compile and hasattr(torch, 'compile'):
        model = torch.compile(model)
    if ddp:
        model = nn.parallel.DistributedDataParallel(model, device_ids=[device] if device.startswith('cuda') else None)
    autocast = (torch.autocast('cuda', dtype=torch.bfloat16) if args.dtype == 'bfloat16' and 'cuda' in device
                else contextlib.nullcontext())

    named = list(raw.named_parameters())
    decay = [p for _, p in named if p.dim() >= 2]
    no_decay = [p for _, p in named if p.dim() < 2]
    opt = torch.optim.AdamW([{'params': decay, 'weight_decay': t['weightDecay']},
                             {'params': no_decay, 'weight_decay': 0.0}],
                            lr=t['lr'], betas=(t['beta1'], t['beta2']), eps=1e-8)
    if moments is not None:
        for name, p in named:
            m_, v_ = moments.get('adam.m/' + name), moments.get('adam.v/' + name)
            if m_ is None or v_ is None:
                sys.exit(f'{args.resume}/trainer.safetensors lacks the AdamW moments of {name}: '
                         'start from its weights with --init-from instead')
            opt.state[p] = {'step': torch.tensor(float(start_step)),
                            'exp_avg': m_.to(device), 'exp_avg_sq': v_.to(device)}

    with open(os.path.join(run['base'], run['data']['tokens'])) as f:
        token_bytes = [bytes.fromhex(h) for h in json.load(f)]

    def decode(ids):
        return b''.join(token_bytes[i] for i in ids if i < len(token_bytes)).decode('utf-8', errors='replace')

    def train_offsets(step):
        """The global batch's row starts: a function of (seed, step), the same on every process."""
        if replay is not None:
            if (step + 1) * rows > len(replay):
                sys.exit(f'{args.offsets} holds the batches of {len(replay) // rows} steps, not step {step + 1}')
            return replay[step * rows:(step + 1) * rows]
        return np.random.default_rng([t['seed'], step]).integers(0, len(train) - T, size=rows)

    @torch.no_grad()
    def estimate(data, step, split):
        """Mean loss of evalIters batches; the processes share them and sum."""
        model.eval()
        rng = np.random.default_rng([t['seed'], step, split])
        total = torch.zeros((), device=device)
        for i in range(t['evalIters']):
            offsets = rng.integers(0, len(data) - T, size=t['batchSize'])
            if i % world == rank:
                x, y = rows_of(data, offsets, T)
                with autocast:
                    total += raw(x.to(device), y.to(device))
        if ddp:
            dist.all_reduce(total)
        model.train()
        return total.item() / t['evalIters']

    @torch.no_grad()
    def sample(step):
        s = run['sample']
        g = torch.Generator().manual_seed((t['seed'] + 7919 * (step + 1)) % 2 ** 32)
        ids = list(s['promptIds'])
        raw.eval()
        for _ in range(t['sampleTokens']):
            ctx = torch.tensor([ids[-T:]], device=device)
            logits = raw(ctx)[0, -1, :s['vocabLimit']].float().cpu()  # (V)
            if t['temperature'] <= 0:
                ids.append(int(logits.argmax()))
                continue
            logits = logits / t['temperature']
            if 0 < t['topK'] < logits.numel():
                kth = torch.topk(logits, t['topK']).values[-1]
                logits[logits < kth] = float('-inf')
            ids.append(int(torch.multinomial(F.softmax(logits, dim=-1), 1, generator=g)))
        raw.train()
        return decode(ids[len(s['promptIds']):])

    val_at = {}  # val loss by step, for keepCheckpoints' best

    def checkpoint(step, train_loss, val_loss, tokens_seen, elapsed_ms):
        root = os.path.join(out_dir, 'checkpoints')
        final = os.path.join(root, f'step-{step}')
        tmp = os.path.join(root, f'.step-{step}.tmp-{os.getpid()}-{int(time.time() * 1000)}')
        os.makedirs(tmp)
        try:
            write_safetensors(os.path.join(tmp, 'model.safetensors'), dict(named),
                              {'format': 'pt', 'producer': 'llm-lens export-torch'})
            state = {}
            for name, p in named:
                st = opt.state.get(p, {})
                state['adam.m/' + name] = st.get('exp_avg', torch.zeros_like(p))
                state['adam.v/' + name] = st.get('exp_avg_sq', torch.zeros_like(p))
            write_safetensors(os.path.join(tmp, 'trainer.safetensors'), state, {'producer': 'llm-lens export-torch'})
            trainer = {'format': TRAINER_FORMAT, 'version': 1, 'step': step,
                       'rngState': (t['seed'] * 2654435761 + step) % 2 ** 32, 'seed': t['seed'],
                       'trainLoss': train_loss, 'valLoss': val_loss, 'tokensSeen': tokens_seen,
                       'elapsedMs': elapsed_ms, 'trainedWith': 'pytorch ' + torch.__version__}
            fsync_write(os.path.join(tmp, 'trainer.json'), json.dumps(trainer, indent=2) + '\n')
            fsync_write(os.path.join(tmp, 'config.json'), json.dumps(run['checkpointConfig'], indent=2) + '\n')
            for name in run['tokenizerFiles']:
                shutil.copyfile(os.path.join(run['base'], name), os.path.join(tmp, os.path.basename(name)))
            shutil.rmtree(final, ignore_errors=True)
            os.rename(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        prune(root, step)
        return final

    def prune(root, newest):
        """Keeps the last keepCheckpoints checkpoints and the one with the best val loss (0: all)."""
        keep = t['keepCheckpoints']
        if keep <= 0:
            return
        steps = sorted(int(n[5:]) for n in os.listdir(root) if n.startswith('step-') and n[5:].isdigit())
        kept = set(steps[-keep:]) | {newest}
        scored = [s for s in steps if s in val_at]
        if scored:
            kept.add(min(scored, key=lambda s: val_at[s]))
        for s in steps:
            if s not in kept:
                shutil.rmtree(os.path.join(root, f'step-{s}'), ignore_errors=True)

    stop = {'asked': False}

    def ask_stop(signum, frame):
        stop['asked'] = True

    signal.signal(signal.SIGINT, ask_stop)
    signal.signal(signal.SIGTERM, ask_stop)

    if master:
        os.makedirs(out_dir, exist_ok=True)
    params = sum(p.numel() for _, p in named)
    tokens_per_step = rows * T
    log({'kind': 'start', 'runDir': out_dir, 'params': params, 'tokensPerStep': tokens_per_step,
         'startStep': start_step, 'maxIters': t['maxIters'], 'stage': 'pretrain'})
    say(f'{params:,} parameters, {world} process(es) on {device}, {rows} rows x {T} tokens per step '
        f'({micro} rows x {accum} micro-batches per process), steps {start_step} to {t["maxIters"]}')

    step, tokens_seen = start_step, tokens_before
    t0 = time.time()
    last_loss, last_val, step_ms = None, None, []
    elapsed = lambda: elapsed_before + int((time.time() - t0) * 1000)
    if t.get('saveInitial') and start_step == 0 and master:
        log({'kind': 'checkpoint', 'step': 0, 'dir': checkpoint(0, None, None, 0, 0)})
    stopped = False
    every = lambda n: n > 0 and step % n == 0
    while True:
        at_end = step >= t['maxIters']
        first = step == start_step and not at_end
        if t['evalIters'] > 0 and t['evalInterval'] > 0 and (every(t['evalInterval']) or at_end) \
                and not (first and t.get('noInitialEval')):
            train_loss, last_val = estimate(train, step, 1), estimate(val, step, 2)
            val_at[step] = last_val
            log({'kind': 'eval', 'step': step, 'trainLoss': train_loss, 'valLoss': last_val})
            say(f'step {step}: train loss {train_loss:.4f}, val loss {last_val:.4f}')
        if t['sampleInterval'] > 0 and t['sampleTokens'] > 0 and (every(t['sampleInterval']) or at_end) and master:
            log({'kind': 'sample', 'step': step, 'prompt': run['sample']['prompt'], 'text': sample(step)})
        if at_end:
            break
        flag = torch.tensor([1.0 if stop['asked'] else 0.0], device=device)
        if ddp:
            dist.all_reduce(flag, op=dist.ReduceOp.MAX)
        if flag.item() > 0:
            stopped = True
            break

        tic = time.time()
        lr = learning_rate(step, t)
        for group in opt.param_groups:
            group['lr'] = lr
        offsets = train_offsets(step)[rank * mine:(rank + 1) * mine]
        loss_sum = torch.zeros((), device=device)
        for k in range(accum):
            x, y = rows_of(train, offsets[k * micro:(k + 1) * micro], T)
            sync = k == accum - 1 or not ddp
            with (contextlib.nullcontext() if sync else model.no_sync()):
                with autocast:
                    loss = model(x.to(device), y.to(device)) / accum
                loss.backward()
            loss_sum += loss.detach()
        if ddp:
            dist.all_reduce(loss_sum)
            loss_sum /= world
        grad_norm = torch.nn.utils.clip_grad_norm_(raw.parameters(), t['gradClip'] if t['gradClip'] > 0 else float('inf'))
        loss_v, norm_v = loss_sum.item(), grad_norm.item()
        if not (math.isfinite(loss_v) and math.isfinite(norm_v)):
            what = ' and '.join(([f'loss {loss_v}'] if not math.isfinite(loss_v) else [])
                                + ([f'gradient norm {norm_v}'] if not math.isfinite(norm_v) else []))
            log({'kind': 'error', 'step': step, 'message': f'step {step} went bad: {what}. The update was not '
                 'applied; the last good checkpoint is kept. Lower the learning rate or check the data.'})
            say(f'step {step} went bad: {what}')
            if ddp:
                dist.destroy_process_group()
            sys.exit(1)
        opt.step()
        opt.zero_grad(set_to_none=True)
        step += 1
        tokens_seen += tokens_per_step
        last_loss = loss_v
        ms = (time.time() - tic) * 1000
        step_ms.append(ms)
        typical = sorted(step_ms[-20:])[len(step_ms[-20:]) // 2]
        log({'kind': 'step', 'step': step, 'loss': loss_v, 'lr': lr, 'gradNorm': norm_v, 'ms': ms,
             'tokPerSec': tokens_per_step / max(ms, 1e-6) * 1000, 'tokensSeen': tokens_seen,
             'elapsedMs': elapsed(), 'etaMs': typical * (t['maxIters'] - step)})
        if step % args.log_interval == 0 or step == start_step + 1:
            say(f'step {step}: loss {loss_v:.4f}, lr {lr:.2e}, {ms:.1f} ms')
        if every(t['checkpointInterval']) and master:
            log({'kind': 'checkpoint', 'step': step,
                 'dir': checkpoint(step, last_loss, last_val, tokens_seen, elapsed())})

    if master and not (every(t['checkpointInterval']) and step > start_step):
        log({'kind': 'checkpoint', 'step': step, 'dir': checkpoint(step, last_loss, last_val, tokens_seen, elapsed())})
    if args.dump_logits and master:
        with torch.no_grad():
            raw.eval()
            ids = val[:T].astype(np.int64)
            logits = raw(torch.from_numpy(ids)[None].to(device))[0].float().cpu()  # (T, V)
        with open(args.dump_logits, 'w') as f:
            json.dump({'step': step, 'ids': ids.tolist(), 'logits': logits.tolist()}, f)
    log({'kind': 'done', 'step': step, 'reason': 'stopped' if stopped else 'finished', 'elapsedMs': elapsed()})
    say(f'{"stopped" if stopped else "finished"} at step {step}')
    if ddp:
        dist.destroy_process_group()


if __name__ == '__main__':
    main()
