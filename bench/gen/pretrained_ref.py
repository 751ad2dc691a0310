"""PyTorch peer for npm run bench pretrained: greedy generation from Hugging Face model folders.

Two commands:
  write  random weights of a GPT-2 or Llama shape, saved as transformers saves them (config.json +
         model.safetensors: GPT-2 in F32 with Conv1D [in, out] under transformer.*, Llama in BF16 with
         nn.Linear [out, in] under model.*, tied embeddings), for both engines to load;
  bench  loads such a folder into float32 tensors and runs a hand-written forward with a preallocated KV
         cache (GPT-2 after transformers' modeling_gpt2.py: gelu_new, LayerNorm eps 1e-5; Llama after
         modeling_llama.py: RMSNorm, rotate_half RoPE with float32 tables, GQA, SwiGLU), torch.inference_mode,
         float32. Before timing, the cached logits of a few greedy steps are checked against a full forward
         over the same tokens (no cache), so that the peer computes the model it claims to.

Timing, per repetition: prefill of the prompt + argmax of its last logits = time to first token; then
new_tokens - 1 more tokens, one cached forward + argmax each = decode tokens/s.

    source ../shared/bench/torch-baseline/env.sh
    /usr/bin/python3 bench/gen/pretrained_ref.py write --family llama --out /tmp/m --seed 1
    /usr/bin/python3 bench/gen/pretrained_ref.py bench --dir /tmp/m --prompt 1,2,3 --new-tokens 64 --repeats 3

bench prints one JSON line: {"tokens": greedy ids, "first_top": [[id, logit] x5], "ttft_ms": [...],
"decode_tok_per_s": [...], "rss_load_mb": resident memory added by loading the model}.
"""
import argparse, json, math, os, struct, time

import numpy as np
import torch
import torch.nn.functional as F

GPT2_124M = dict(vocab=50257, layers=12, heads=12, hidden=768, block=1024)
SMOLLM2_135M = dict(vocab=49152, layers=30, heads=9, kv_heads=3, hidden=576, inter=1536, theta=100000.0,
                    eps=1e-5, max_pos=8192)


# ---------------------------------------------------------------------------------------------- files

def write_safetensors(path, tensors, dtype):
    header, blobs, off = {'__metadata__': {'format': 'pt'}}, [], 0
    for name, t in tensors.items():
        if dtype == 'BF16':
            b = t.float().to(torch.bfloat16).view(torch.int16).numpy().astype('<i2').tobytes()
        else:
            b = t.float().numpy().astype('<f4').tobytes()
        header[name] = {'dtype': dtype, 'shape': list(t.shape), 'data_offsets': [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    h = json.dumps(header).encode()
    h += b' ' * (-len(h) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(h)) + h)
        for b in blobs:
            f.write(b)


def read_safetensors(path):
    """name -> float32 tensor (F32 or BF16 entries)."""
    with open(path, 'rb') as f:
        n = struct.unpack('<Q', f.read(8))[0]
        header = json.loads(f.read(n))
        base = 8 + n
        out = {}
        for name, e in header.items():
            if name == '__metadata__':
                continue
            a, b = e['data_offsets']
            f.seek(base + a)
            raw = f.read(b - a)
            if e['dtype'] == 'F32':
                t = torch.from_numpy(np.frombuffer(raw, dtype='<f4').copy())
            elif e['dtype'] == 'BF16':
                t = torch.from_numpy(np.frombuffer(raw, dtype='<i2').copy()).view(torch.bfloat16).float()
            else:
                raise ValueError(f'{path}: {name} has dtype {e["dtype"]}; this peer reads F32 and BF16')
            out[name] = t.view(*e['shape'])
    return out


def write_gpt2(out, seed):
    c = GPT2_124M
    g = torch.Generator().manual_seed(seed)
    C, L = c['hidden'], c['layers']
    r = lambda *s, std=0.02: std * torch.randn(*s, generator=g)
    W = {'transformer.wte.weight': r(c['vocab'], C), 'transformer.wpe.weight': r(c['block'], C, std=0.01)}
    for l in range(L):
        p = f'transformer.h.{l}.'
        W[p + 'ln_1.weight'], W[p + 'ln_1.bias'] = torch.ones(C), torch.zeros(C)
        W[p + 'attn.c_attn.weight'], W[p + 'attn.c_attn.bias'] = r(C, 3 * C), torch.zeros(3 * C)
        W[p + 'attn.c_proj.weight'], W[p + 'attn.c_proj.bias'] = r(C, C, std=0.02 / math.sqrt(2 * L)), torch.zeros(C)
        W[p + 'ln_2.weight'], W[p + 'ln_2.bias'] = torch.ones(C), torch.zeros(C)
        W[p + 'mlp.c_fc.weight'], W[p + 'mlp.c_fc.bias'] = r(C, 4 * C), torch.zeros(4 * C)
        W[p + 'mlp.c_proj.weight'], W[p + 'mlp.c_proj.bias'] = r(4 * C, C, std=0.02 / math.sqrt(2 * L)), torch.zeros(C)
    W['transformer.ln_f.weight'], W['transformer.ln_f.bias'] = torch.ones(C), torch.zeros(C)
    config = {
        'architectures': ['GPT2LMHeadModel'], 'model_type': 'gpt2', 'vocab_size': c['vocab'],
        'n_positions': c['block'], 'n_ctx': c['block'], 'n_embd': C, 'n_layer': L, 'n_head': c['heads'],
        'n_inner': None, 'activation_function': 'gelu_new', 'layer_norm_epsilon': 1e-5,
        'tie_word_embeddings': True, 'torch_dtype': 'float32',
    }
    return config, W, 'F32'


def write_llama(out, seed):
    c = SMOLLM2_135M
    g = torch.Generator().manual_seed(seed)
    C, hd, I = c['hidden'], c['hidden'] // c['heads'], c['inter']
    r = lambda *s, std=0.02: std * torch.randn(*s, generator=g)
    W = {'model.embed_tokens.weight': r(c['vocab'], C)}
    for l in range(c['layers']):
        p = f'model.layers.{l}.'
        W[p + 'self_attn.q_proj.weight'] = r(c['heads'] * hd, C)
        W[p + 'self_attn.k_proj.weight'] = r(c['kv_heads'] * hd, C)
        W[p + 'self_attn.v_proj.weight'] = r(c['kv_heads'] * hd, C)
        W[p + 'self_attn.o_proj.weight'] = r(C, c['heads'] * hd)
        W[p + 'mlp.gate_proj.weight'] = r(I, C)
        W[p + 'mlp.up_proj.weight'] = r(I, C)
        W[p + 'mlp.down_proj.weight'] = r(C, I)
        W[p + 'input_layernorm.weight'] = 1 + r(C, std=0.1)
        W[p + 'post_attention_layernorm.weight'] = 1 + r(C, std=0.1)
    W['model.norm.weight'] = 1 + r(C, std=0.1)
    config = {
        'architectures': ['LlamaForCausalLM'], 'model_type': 'llama', 'vocab_size': c['vocab'],
        'hidden_size': C, 'intermediate_size': I, 'num_hidden_layers': c['layers'],
        'num_attention_heads': c['heads'], 'num_key_value_heads': c['kv_heads'], 'hidden_act': 'silu',
        'max_position_embeddings': c['max_pos'], 'rms_norm_eps': c['eps'], 'rope_theta': c['theta'],
        'rope_scaling': None, 'tie_word_embeddings': True, 'attention_bias': False, 'mlp_bias': False,
        'torch_dtype': 'bfloat16',
    }
    return config, W, 'BF16'


# ---------------------------------------------------------------------------------------------- models

class Gpt2:
    def __init__(self, j, W, max_context):
        self.nh, self.C, self.L = j['n_head'], j['n_embd'], j['n_layer']
        self.eps = j.get('layer_norm_epsilon', 1e-5)
        self.block = j['n_positions']
        p = lambda n: W['transformer.' + n]
        self.wte, self.wpe = p('wte.weight'), p('wpe.weight')
        # Conv1D [in, out] -> nn.Linear [out, in] once, as gpt_ref.py's nn.Linear holds them
        self.layers = [{k: (p(f'h.{l}.{k}').t().contiguous() if k.endswith('attn.weight') or k.endswith('proj.weight')
                            or k.endswith('fc.weight') else p(f'h.{l}.{k}'))
                        for k in ['ln_1.weight', 'ln_1.bias', 'attn.c_attn.weight', 'attn.c_attn.bias',
                                  'attn.c_proj.weight', 'attn.c_proj.bias', 'ln_2.weight', 'ln_2.bias',
                                  'mlp.c_fc.weight', 'mlp.c_fc.bias', 'mlp.c_proj.weight', 'mlp.c_proj.bias']}
                       for l in range(self.L)]
        self.lnf_w, self.lnf_b = p('ln_f.weight'), p('ln_f.bias')

    def new_cache(self, S):
        hd = self.C // self.nh
        return torch.zeros(self.L, 2, 1, self.nh, S, hd)

    def forward(self, idx, pos, cache):
        """idx (1, T) at positions pos..pos+T-1; writes the cache; logits of the last position (V)."""
        T, C, nh = idx.shape[1], self.C, self.nh
        hd = C // nh
        x = self.wte[idx] + self.wpe[pos:pos + T]
        mask = torch.full((T, pos + T), float('-inf')).triu(pos + 1) if T > 1 else None
        for l, w in enumerate(self.layers):
            h = F.layer_norm(x, (C,), w['ln_1.weight'], w['ln_1.bias'], self.eps)
            q, k, v = F.linear(h, w['attn.c_attn.weight'], w['attn.c_attn.bias']).split(C, dim=2)
            q, k, v = [t.view(1, T, nh, hd).transpose(1, 2) for t in (q, k, v)]
            cache[l, 0, :, :, pos:pos + T] = k
            cache[l, 1, :, :, pos:pos + T] = v
            K, V = cache[l, 0, :, :, :pos + T], cache[l, 1, :, :, :pos + T]
            att = (q @ K.transpose(-2, -1)) * (1.0 / math.sqrt(hd))
            if mask is not None:
                att = att + mask
            y = (F.softmax(att, dim=-1) @ V).transpose(1, 2).reshape(1, T, C)
            x = x + F.linear(y, w['attn.c_proj.weight'], w['attn.c_proj.bias'])
            h = F.layer_norm(x, (C,), w['ln_2.weight'], w['ln_2.bias'], self.eps)
            h = F.gelu(F.linear(h, w['mlp.c_fc.weight'], w['mlp.c_fc.bias']), approximate='tanh')
            x = x + F.linear(h, w['mlp.c_proj.weight'], w['mlp.c_proj.bias'])
        x = F.layer_norm(x[:, -1], (C,), self.lnf_w, self.lnf_b, self.eps)
        return F.linear(x, self.wte)[0]


class Llama:
    def __init__(self, j, W, max_context):
        self.nh, self.nkv, self.C = j['num_attention_heads'], j['num_key_value_heads'], j['hidden_size']
        self.L, self.eps = j['num_hidden_layers'], j['rms_norm_eps']
        self.hd = self.C // self.nh
        self.block = min(j['max_position_embeddings'], max_context)
        self.emb = W['model.embed_tokens.weight']
        self.head = W.get('lm_head.weight', self.emb)
        names = ['input_layernorm.weight', 'self_attn.q_proj.weight', 'self_attn.k_proj.weight',
                 'self_attn.v_proj.weight', 'self_attn.o_proj.weight', 'post_attention_layernorm.weight',
                 'mlp.gate_proj.weight', 'mlp.up_proj.weight', 'mlp.down_proj.weight']
        self.layers = [{n: W[f'model.layers.{l}.{n}'] for n in names} for l in range(self.L)]
        self.norm = W['model.norm.weight']
        # modeling_rope_utils' default rope: inv_freq, angles, cos and sin in float32
        inv = 1.0 / (j['rope_theta'] ** (torch.arange(0, self.hd, 2, dtype=torch.int64).float() / self.hd))
        freqs = torch.arange(self.block).float()[:, None] * inv[None, :]
        emb = torch.cat((freqs, freqs), dim=-1)
        self.cos, self.sin = emb.cos(), emb.sin()  # (block, hd)

    def new_cache(self, S):
        return torch.zeros(self.L, 2, 1, self.nkv, S, self.hd)

    def rms(self, x, w):
        return w * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps))

    @staticmethod
    def rotate_half(x):
        h = x.shape[-1] // 2
        return torch.cat((-x[..., h:], x[..., :h]), dim=-1)

    def forward(self, idx, pos, cache):
        T, C, nh, nkv, hd = idx.shape[1], self.C, self.nh, self.nkv, self.hd
        rep = nh // nkv
        cos, sin = self.cos[pos:pos + T], self.sin[pos:pos + T]
        mask = torch.full((T, pos + T), float('-inf')).triu(pos + 1) if T > 1 else None
        x = self.emb[idx]
        for l, w in enumerate(self.layers):
            h = self.rms(x, w['input_layernorm.weight'])
            q = F.linear(h, w['self_attn.q_proj.weight']).view(1, T, nh, hd).transpose(1, 2)
            k = F.linear(h, w['self_attn.k_proj.weight']).view(1, T, nkv, hd).transpose(1, 2)
            v = F.linear(h, w['self_attn.v_proj.weight']).view(1, T, nkv, hd).transpose(1, 2)
            q, k = q * cos + self.rotate_half(q) * sin, k * cos + self.rotate_half(k) * sin
            cache[l, 0, :, :, pos:pos + T] = k
            cache[l, 1, :, :, pos:pos + T] = v
            K, V = cache[l, 0, 0, :, :pos + T], cache[l, 1, 0, :, :pos + T]  # (nkv, S, hd)
            # grouped-query attention without copying K/V: the rep query heads of a kv head as one batch
            qg = q[0].reshape(nkv, rep * T, hd)
            att = (qg @ K.transpose(-2, -1)) * (1.0 / math.sqrt(hd))  # (nkv, rep*T, S)
            if mask is not None:
                att = (att.view(nkv, rep, T, -1) + mask).view(nkv, rep * T, -1)
            y = (F.softmax(att, dim=-1) @ V).view(nh, T, hd).transpose(0, 1).reshape(1, T, C)
            x = x + F.linear(y, w['self_attn.o_proj.weight'])
            h = self.rms(x, w['post_attention_layernorm.weight'])
            h = F.silu(F.linear(h, w['mlp.gate_proj.weight'])) * F.linear(h, w['mlp.up_proj.weight'])
            x = x + F.linear(h, w['mlp.down_proj.weight'])
        return F.linear(self.rms(x[:, -1], self.norm), self.head)[0]


def rss_mb():
    with open('/proc/self/status') as f:
        for line in f:
            if line.startswith('VmRSS:'):
                return int(line.split()[1]) / 1024
    return float('nan')


def load(d, max_context):
    with open(os.path.join(d, 'config.json')) as f:
        j = json.load(f)
    W = read_safetensors(os.path.join(d, 'model.safetensors'))
    return (Gpt2 if j['model_type'] == 'gpt2' else Llama)(j, W, max_context)


@torch.inference_mode()
def generate(m, prompt, n, trace=None):
    """Greedy: n tokens; (tokens, ms to the first, ms for the other n - 1)."""
    cache = m.new_cache(min(m.block, len(prompt) + n))
    t0 = time.perf_counter()
    logits = m.forward(torch.tensor([prompt]), 0, cache)
    tok = int(torch.argmax(logits))
    t1 = time.perf_counter()
    out = [tok]
    for i in range(n - 1):
        if trace is not None:
            trace.append(logits)
        logits = m.forward(torch.tensor([[tok]]), len(prompt) + i, cache)
        tok = int(torch.argmax(logits))
        out.append(tok)
    t2 = time.perf_counter()
    return out, (t1 - t0) * 1000, (t2 - t1) * 1000


@torch.inference_mode()
def check(m, prompt):
    """The cached logits of 4 greedy steps equal a full forward (fresh cache) over the same tokens."""
    trace = []
    toks, _, _ = generate(m, prompt, 5, trace)
    for i, logits in enumerate(trace):
        seq = prompt + toks[:i]
        full = m.forward(torch.tensor([seq]), 0, m.new_cache(len(seq)))
        err = (full - logits).abs().max().item()
        assert err < 1e-4 * max(1.0, full.abs().max().item()), f'step {i}: cached logits differ by {err}'


def main():
    p = argparse.ArgumentParser()
    p.add_argument('cmd', choices=['write', 'bench'])
    p.add_argument('--family', choices=['gpt2', 'llama'])
    p.add_argument('--out')
    p.add_argument('--seed', type=int, default=1)
    p.add_argument('--dir')
    p.add_argument('--prompt')
    p.add_argument('--new-tokens', type=int, default=64)
    p.add_argument('--repeats', type=int, default=3)
    p.add_argument('--threads', type=int, default=2)
    p.add_argument('--max-context', type=int, default=512)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    if a.cmd == 'write':
        config, W, dtype = (write_gpt2 if a.family == 'gpt2' else write_llama)(a.out, a.seed)
        os.makedirs(a.out, exist_ok=True)
        with open(os.path.join(a.out, 'config.json'), 'w') as f:
            json.dump(config, f, indent=2)
        write_safetensors(os.path.join(a.out, 'model.safetensors'), W, dtype)
        print(json.dumps({'params': sum(t.numel() for t in W.values())}))
        return
    before = rss_mb()
    m = load(a.dir, a.max_context)
    rss_load = rss_mb() - before
    prompt = [int(t) for t in a.prompt.split(',')]
    check(m, prompt)
    with torch.inference_mode():
        first = m.forward(torch.tensor([prompt]), 0, m.new_cache(len(prompt)))
    top = torch.topk(first, 5)
    tokens, _, _ = generate(m, prompt, a.new_tokens)  # warm-up and the greedy tokens
    ttft, tps = [], []
    for _ in range(a.repeats):
        again, t_first, t_rest = generate(m, prompt, a.new_tokens)
        assert again == tokens, 'greedy generation is not deterministic'
        ttft.append(t_first)
        tps.append((a.new_tokens - 1) / (t_rest / 1000))
    print(json.dumps({'tokens': tokens, 'first_top': [[int(i), float(v)] for v, i in zip(top.values, top.indices)],
                      'ttft_ms': ttft, 'decode_tok_per_s': tps, 'rss_load_mb': rss_load}))


if __name__ == '__main__':
    main()
