#!/usr/bin/python3
"""PyTorch reference for `npm run bench`: the diffx bench network (configs/bench.yaml) rebuilt
layer for layer, timed on the CPU.

The network is src/model/unet.ts with conditioning none, resolution 32, channels 32/64/128,
one residual block per level, single-head self-attention in the encoder at 8x8, GroupNorm(8,
eps 1e-5), sinusoidal time embedding 128 -> Linear -> SiLU -> Linear. Stride-2 3x3 downsampling
with padding 1 on every side; nearest 2x upsampling + 3x3 conv; decoder blocks take
concat(h, skip); out = conv(SiLU(GroupNorm(h))). The same layers are zero-initialised (second
conv of every residual block, attention output projection, final conv). diffx works in NHWC,
this in NCHW: the arithmetic is the same. The script stops with exit code 3 when the parameter
count is not 1,373,155 (the diffx count) and prints the multiply-add count of one forward.

Training step = what src/train/trainer.ts does per step: q(x_t | x_0) with the cosine schedule,
eps-prediction MSE with min-SNR-5 weights (configs/base.yaml), backward, clip to global norm 1,
AdamW (lr 2e-4, weight decay 0), EMA 0.9999 of the weights.
Sampling = 25 DDIM steps (eta 0, trailing timesteps, x0 clipped to [-1, 1] with eps recomputed)
at batch 16, as src/diffusion/samplers/ddim.ts.

  /usr/bin/python3 bench/reference/torch_unet.py [--threads 2] [--reps 10] [--warmup 2] [--batch 16]
      times forward, train step and sampling; prints one JSON object.
  /usr/bin/python3 bench/reference/torch_unet.py --serve [--threads 2]
      for bench/run.ts: reads one JSON command per line on stdin
      ({"cmd": "forward"|"train"|"sample", "reps": N, "warmup": W[, "steps": S]} or {"cmd": "exit"}) and answers
      each with one line "@@bench {json}" on stdout, so rounds can be interleaved with diffx's.
"""
import argparse
import json
import math
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

EXPECTED_PARAMS = 1_373_155
T_STEPS = 1000
MIN_SNR_GAMMA = 5.0
LR = 2e-4
EMA_DECAY = 0.9999
GRAD_CLIP = 1.0
SAMPLE_STEPS = 25


def cosine_alpha_bars(T):
    """Improved-DDPM cosine schedule (s = 0.008, beta clipped at 0.999), as src/diffusion/schedule.ts."""
    def f(u):
        c = math.cos(((u + 0.008) / 1.008) * (math.pi / 2))
        return c * c
    out, prod = [], 1.0
    for i in range(T):
        beta = min(1 - f((i + 1) / T) / f(i / T), 0.999)
        prod *= 1 - beta
        out.append(prod)
    return out


def trailing_timesteps(T, steps):
    """diffusers' trailing spacing: round(T - k T/S) - 1 (Python's round is half-to-even, as numpy)."""
    return [round(T - k * T / steps) - 1 for k in range(steps)]


def timestep_embedding(t, dim):
    half = dim // 2
    freqs = torch.exp(-math.log(10000) * torch.arange(half, dtype=torch.float32) / (half - 1))
    angles = t[:, None] * freqs[None, :]
    return torch.cat([torch.sin(angles), torch.cos(angles)], dim=1)


class ResBlock(nn.Module):
    def __init__(self, in_ch, out_ch, time_dim, groups):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, in_ch, eps=1e-5)
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, padding=1)
        self.time = nn.Linear(time_dim, out_ch)
        self.norm2 = nn.GroupNorm(groups, out_ch, eps=1e-5)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, padding=1)
        nn.init.zeros_(self.conv2.weight)
        nn.init.zeros_(self.conv2.bias)
        # 1x1 projection = diffx's `skip` linear over channels (same weights, same FLOPs)
        self.skip = nn.Conv2d(in_ch, out_ch, 1) if in_ch != out_ch else None

    def forward(self, x, temb):
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.time(F.silu(temb))[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        return (x if self.skip is None else self.skip(x)) + h


class SelfAttention(nn.Module):
    """One head: x + out(softmax(q k^T / sqrt(C)) v), q, k, v linear maps of GN(x) over the pixels."""

    def __init__(self, ch, groups):
        super().__init__()
        self.norm = nn.GroupNorm(groups, ch, eps=1e-5)
        self.q = nn.Linear(ch, ch)
        self.k = nn.Linear(ch, ch)
        self.v = nn.Linear(ch, ch)
        self.out = nn.Linear(ch, ch)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x):
        n, c, h, w = x.shape
        seq = self.norm(x).flatten(2).transpose(1, 2)  # [N, HW, C]
        q, k, v = self.q(seq), self.k(seq), self.v(seq)
        weights = torch.softmax(torch.bmm(q, k.transpose(1, 2)) / math.sqrt(c), dim=-1)
        out = self.out(torch.bmm(weights, v))
        return x + out.transpose(1, 2).reshape(n, c, h, w)


class UNet(nn.Module):
    def __init__(self, resolution=32, channels=(32, 64, 128), res_blocks=1, attention=(8,), groups=8, time_dim=128):
        super().__init__()
        self.time_dim = time_dim
        self.mlp0 = nn.Linear(time_dim, time_dim)
        self.mlp1 = nn.Linear(time_dim, time_dim)
        self.conv_in = nn.Conv2d(3, channels[0], 3, padding=1)
        levels = len(channels)
        self.down_blocks = nn.ModuleList()
        self.down_attn = nn.ModuleList()
        self.downsample = nn.ModuleList()
        width = channels[0]
        self.has_attn = []
        for i, ch in enumerate(channels):
            res = resolution // 2 ** i
            blocks, attns = nn.ModuleList(), nn.ModuleList()
            for _ in range(res_blocks):
                blocks.append(ResBlock(width, ch, time_dim, groups))
                width = ch
                if res in attention:
                    attns.append(SelfAttention(ch, groups))
            self.has_attn.append(res in attention)
            self.down_blocks.append(blocks)
            self.down_attn.append(attns)
            if i < levels - 1:
                self.downsample.append(nn.Conv2d(width, width, 3, stride=2, padding=1))
        self.up_blocks = nn.ModuleList()
        self.upsample = nn.ModuleList()
        for i in reversed(range(levels)):
            blocks = nn.ModuleList()
            for j in range(res_blocks):
                in_ch = width + channels[i] if j == 0 else width
                blocks.append(ResBlock(in_ch, channels[i], time_dim, groups))
                width = channels[i]
            self.up_blocks.append(blocks)
            if i > 0:
                self.upsample.append(nn.Conv2d(width, width, 3, padding=1))
        self.out_norm = nn.GroupNorm(groups, width, eps=1e-5)
        self.out_conv = nn.Conv2d(width, 3, 3, padding=1)
        nn.init.zeros_(self.out_conv.weight)
        nn.init.zeros_(self.out_conv.bias)
        self.levels = levels

    def forward(self, x, t):
        temb = self.mlp1(F.silu(self.mlp0(timestep_embedding(t, self.time_dim))))
        h = self.conv_in(x)
        skips = []
        for i in range(self.levels):
            for j, block in enumerate(self.down_blocks[i]):
                h = block(h, temb)
                if self.has_attn[i]:
                    h = self.down_attn[i][j](h)
            skips.append(h)
            if i < self.levels - 1:
                h = self.downsample[i](h)
        for k, i in enumerate(reversed(range(self.levels))):
            h = torch.cat([h, skips[i]], dim=1)
            for block in self.up_blocks[k]:
                h = block(h, temb)
            if i > 0:
                h = self.upsample[k](F.interpolate(h, scale_factor=2, mode="nearest"))
        return self.out_conv(F.silu(self.out_norm(h)))


def count_forward_flops(net, batch, resolution):
    """2 x multiply-adds of every conv, linear and batched matmul in one forward, per image."""
    macs = [0]

    def conv_hook(m, inp, out):
        macs[0] += out.numel() * (m.in_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1]

    def linear_hook(m, inp, out):
        macs[0] += out.numel() * m.in_features

    hooks = []
    for m in net.modules():
        if isinstance(m, nn.Conv2d):
            hooks.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, nn.Linear):
            hooks.append(m.register_forward_hook(linear_hook))
    real_bmm = torch.bmm

    def counting_bmm(a, b):
        macs[0] += a.shape[0] * a.shape[1] * a.shape[2] * b.shape[2]
        return real_bmm(a, b)

    torch.bmm = counting_bmm
    try:
        with torch.no_grad():
            net(torch.zeros(batch, 3, resolution, resolution), torch.zeros(batch))
    finally:
        torch.bmm = real_bmm
        for h in hooks:
            h.remove()
    return 2 * macs[0] / batch


def median(xs):
    s = sorted(xs)
    m = len(s) // 2
    return s[m] if len(s) % 2 else (s[m - 1] + s[m]) / 2


class Bench:
    def __init__(self, batch, resolution=32, seed=0):
        torch.manual_seed(seed)
        self.batch = batch
        self.resolution = resolution
        self.net = UNet(resolution=resolution)
        self.params = sum(p.numel() for p in self.net.parameters())
        self.flops = count_forward_flops(self.net, 2, resolution)
        ab = torch.tensor(cosine_alpha_bars(T_STEPS), dtype=torch.float64)
        self.alpha_bars = ab
        self.sqrt_ab = ab.sqrt().float()
        self.sqrt_1mab = (1 - ab).sqrt().float()
        snr = ab / (1 - ab)
        self.loss_w = (torch.clamp(snr, max=MIN_SNR_GAMMA) / snr).float()  # min-SNR-gamma on eps
        self.opt = torch.optim.AdamW(self.net.parameters(), lr=LR, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
        self.ema = [p.detach().clone() for p in self.net.parameters()]
        self.x0 = torch.rand(batch, 3, resolution, resolution) * 2 - 1
        self.x_fwd = torch.randn(batch, 3, resolution, resolution)
        self.t_fwd = torch.randint(0, T_STEPS, (batch,)).float()

    def forward_once(self):
        with torch.no_grad():
            self.net(self.x_fwd, self.t_fwd)

    def train_once(self):
        t = torch.randint(0, T_STEPS, (self.batch,))
        eps = torch.randn_like(self.x0)
        xt = self.sqrt_ab[t][:, None, None, None] * self.x0 + self.sqrt_1mab[t][:, None, None, None] * eps
        out = self.net(xt, t.float())
        loss = (self.loss_w[t] * ((out - eps) ** 2).mean(dim=(1, 2, 3))).mean()
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(self.net.parameters(), GRAD_CLIP)
        self.opt.step()
        with torch.no_grad():
            for e, p in zip(self.ema, self.net.parameters()):
                e.mul_(EMA_DECAY).add_(p, alpha=1 - EMA_DECAY)
        return float(loss)

    def sample_once(self, steps=SAMPLE_STEPS):
        ts = trailing_timesteps(T_STEPS, steps)
        x = torch.randn(self.batch, 3, self.resolution, self.resolution)
        with torch.no_grad():
            for i, t in enumerate(ts):
                ab = float(self.alpha_bars[t])
                ab_next = float(self.alpha_bars[ts[i + 1]]) if i + 1 < len(ts) else 1.0
                eps = self.net(x, torch.full((self.batch,), float(t)))
                x0 = ((x - math.sqrt(1 - ab) * eps) / math.sqrt(ab)).clamp(-1, 1)
                eps = (x - math.sqrt(ab) * x0) / math.sqrt(1 - ab)
                x = math.sqrt(ab_next) * x0 + math.sqrt(max(0.0, 1 - ab_next)) * eps
        return x

    def time(self, what, reps, warmup, steps=SAMPLE_STEPS):
        fn = {"forward": self.forward_once, "train": self.train_once, "sample": lambda: self.sample_once(steps)}[what]
        for _ in range(warmup):
            fn()
        times = []
        for _ in range(reps):
            t0 = time.perf_counter()
            fn()
            times.append((time.perf_counter() - t0) * 1000)
        return times


def info(bench, threads):
    return {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "requested_threads": threads,
        "blas": blas_library(),
        "params": bench.params,
        "forward_gflop_per_image": bench.flops / 1e9,
        "batch": bench.batch,
    }


def blas_library():
    """Which BLAS shared object this process mapped (Debian's torch uses the system libblas.so.3)."""
    try:
        with open("/proc/self/maps") as f:
            libs = sorted({line.split()[-1] for line in f if "blas" in line.split()[-1]})
        return libs
    except OSError:
        return []


def matmul_gflops():
    a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
    for _ in range(3):
        a @ b
    n = 10
    t0 = time.perf_counter()
    for _ in range(n):
        a @ b
    return 2 * 1024 ** 3 * n / (time.perf_counter() - t0) / 1e9


def reply(obj):
    sys.stdout.write("@@bench " + json.dumps(obj) + "\n")
    sys.stdout.flush()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--serve", action="store_true")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    bench = Bench(args.batch)
    if bench.params != EXPECTED_PARAMS:
        sys.stderr.write(f"torch_unet.py: the PyTorch network has {bench.params} parameters, diffx's bench network has {EXPECTED_PARAMS}: the layers differ\n")
        sys.exit(3)
    head = info(bench, args.threads)
    head["matmul_gflop_per_s"] = matmul_gflops()
    if args.serve:
        reply({"ready": True, **head})
        for line in sys.stdin:
            line = line.strip()
            if not line:
                continue
            cmd = json.loads(line)
            if cmd["cmd"] == "exit":
                reply({"bye": True})
                return
            times = bench.time(cmd["cmd"], int(cmd.get("reps", 5)), int(cmd.get("warmup", 0)), int(cmd.get("steps", SAMPLE_STEPS)))
            reply({"cmd": cmd["cmd"], "ms": times})
        return
    out = dict(head)
    for what, reps in (("forward", args.reps), ("train", args.reps), ("sample", args.reps)):
        times = bench.time(what, reps, args.warmup if what != "sample" else 1)
        out[what] = {"median_ms": median(times), "min_ms": min(times), "max_ms": max(times), "ms": times}
    out["sample_images_per_s"] = args.batch / (out["sample"]["median_ms"] / 1000)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
