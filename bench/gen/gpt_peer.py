"""What the PyTorch peers of bench/sample and bench/rollout share: gpt_ref.py's GPT and its shape flags.

    p = argparse.ArgumentParser(); add_gpt_args(p, new_tokens=64, prompt_len=16)
    a = p.parse_args(); model = gpt_from_args(a)   # random init (seed 1337), eval mode, a.threads threads
"""
import importlib.util

import torch


def load_gpt_class(path):
    spec = importlib.util.spec_from_file_location('gpt_ref', path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.GPT


def add_gpt_args(p, new_tokens, prompt_len):
    """gpt_ref.py's path, the model's shape (shakespeare-char by default) and the run's size."""
    p.add_argument('--gpt-ref', required=True)
    p.add_argument('--vocab', type=int, default=65)
    p.add_argument('--n-layer', type=int, default=6)
    p.add_argument('--n-head', type=int, default=6)
    p.add_argument('--n-embd', type=int, default=384)
    p.add_argument('--block', type=int, default=256)
    p.add_argument('--bias', action='store_true')
    p.add_argument('--new-tokens', type=int, default=new_tokens)
    p.add_argument('--prompt-len', type=int, default=prompt_len)
    p.add_argument('--repeats', type=int, default=5)
    p.add_argument('--threads', type=int, default=2)


def gpt_from_args(a):
    """The GPT of the parsed flags, randomly initialised with seed 1337, in eval mode."""
    torch.set_num_threads(a.threads)
    torch.manual_seed(1337)
    return load_gpt_class(a.gpt_ref)(a).eval()
