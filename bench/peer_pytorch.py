#!/usr/bin/python3
"""PyTorch peer of nce's Eigen trainer: the same CIFAR ResNet (TAS option-B shortcuts: 2x2 average
pool + 1x1 conv without BN), PACT activations and SAWB / DoReFa weight fake-quantization, first conv,
last FC and 1x1 shortcuts in full precision, exactly as nce_nn builds it (nn/include/nce/nn/
network.h, docs/algorithm.md §1).

Three modes:
  speed (default): times training steps (forward + CE + backward + SGD step) on random data,
      prints one JSON line {"what":"train","engine":"pytorch","images_per_s",...} like
      `nce bench train --json`.
  --infer: times eval-mode forwards under torch.no_grad() (denormals flushed) on random data, one
      JSON line {"what":"infer",...} like `nce bench infer --json` (bench/compare_infer_speed.sh).
  --train-data DIR: trains on CIFAR-10 (cifar-10-batches-bin layout) with nce train's recipe (per-
      channel normalization from the training set, pad-4 crop + flip, SGD Nesterov, linear warm-up
      + cosine stepped per batch) and prints a JSON summary with the final top-1/top-5.

Needs Debian's python3-torch (scripts/install-bench-deps.sh). Runs on the CPU only.
"""
import argparse
import json
import math
import os
import resource
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

SAWB_COEFFICIENTS = {2: (3.12, -2.064), 3: (7.341, -6.672), 4: (11.876, -11.764), 8: (31.554, -34.367)}
CIFAR_BLOCKS = {"resnet8": 1, "resnet20": 3, "resnet32": 5, "resnet56": 9, "resnet110": 18}


class SawbQuantize(torch.autograd.Function):
    """2^b uniform levels on [-a, a], a = c1*sqrt(E[w^2]) + c2*E|w| (constant for the gradient);
    straight-through gradient where |w| <= a."""

    @staticmethod
    def forward(ctx, w, bits):
        c1, c2 = SAWB_COEFFICIENTS[bits]
        clip = (c1 * w.pow(2).mean().sqrt() + c2 * w.abs().mean()).clamp(min=0.0)
        levels = 2 ** bits - 1
        step = 2.0 * clip / levels
        wc = torch.minimum(torch.maximum(w, -clip), clip)
        wq = torch.round((wc + clip) / step) * step - clip
        ctx.save_for_backward(w, clip)
        return wq

    @staticmethod
    def backward(ctx, grad):
        w, clip = ctx.saved_tensors
        return grad * (w.abs() <= clip).to(grad.dtype), None


def dorefa_quantize(w, bits):
    """DoReFa: t = tanh w; v = t / (2 max|t|) + 1/2; wq = 2 round(v n)/n - 1 (STE on round)."""
    n = 2 ** bits - 1
    t = torch.tanh(w)
    v = t / (2 * t.abs().max()) + 0.5
    q = v + (torch.round(v * n) / n - v).detach()
    return 2 * q - 1


class PactFunction(torch.autograd.Function):
    """y = round(clip(x, 0, a) * n / a) * a / n; dy/dx = 1 on [0, a]; dy/da = 1 where x >= a."""

    @staticmethod
    def forward(ctx, x, alpha, bits):
        n = 2 ** bits - 1
        a = alpha.item()
        y = x.clamp(0.0, a)
        scale = n / a
        yq = torch.round(y * scale) / scale
        ctx.save_for_backward(x, alpha)
        return yq

    @staticmethod
    def backward(ctx, grad):
        x, alpha = ctx.saved_tensors
        a = alpha.item()
        inside = (x >= 0) & (x <= a)
        grad_x = grad * inside.to(grad.dtype)
        grad_alpha = (grad * (x >= a).to(grad.dtype)).sum().reshape(1)
        return grad_x, grad_alpha, None


class Pact(nn.Module):
    def __init__(self, bits, init_clip=10.0):
        super().__init__()
        self.bits = bits
        self.clip = nn.Parameter(torch.tensor([init_clip]))

    def forward(self, x):
        return PactFunction.apply(x, self.clip, self.bits)


class QConv2d(nn.Conv2d):
    """A conv whose weights are fake-quantized per layer (bits 32: plain conv)."""

    def __init__(self, *args, bits=32, quantizer="sawb", **kwargs):
        super().__init__(*args, **kwargs)
        self.bits = bits
        self.quantizer = quantizer

    def forward(self, x):
        w = self.weight
        if self.bits < 32:
            w = SawbQuantize.apply(w, self.bits) if self.quantizer == "sawb" else dorefa_quantize(w, self.bits)
        return F.conv2d(x, w, None, self.stride, self.padding)


def activation(bits, feeds_quantized, init_clip):
    return Pact(bits, init_clip) if bits < 32 and feeds_quantized else nn.ReLU(inplace=True)


class BasicBlock(nn.Module):
    def __init__(self, c_in, c_out, stride, wbits, abits, quantizer, out_feeds_quantized, init_clip):
        super().__init__()
        self.conv_a = QConv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False, bits=wbits, quantizer=quantizer)
        self.bn_a = nn.BatchNorm2d(c_out)
        self.act_a = activation(abits, True, init_clip)
        self.conv_b = QConv2d(c_out, c_out, 3, stride=1, padding=1, bias=False, bits=wbits, quantizer=quantizer)
        self.bn_b = nn.BatchNorm2d(c_out)
        self.shortcut = None
        self.shortcut_bn = None
        if stride == 2:  # TAS option B: 2x2 avg pool + 1x1 conv, no BN, full precision
            self.shortcut = nn.Sequential(nn.AvgPool2d(2, 2), nn.Conv2d(c_in, c_out, 1, bias=False))
        elif c_in != c_out:
            self.shortcut = nn.Sequential(nn.Conv2d(c_in, c_out, 1, bias=False), nn.BatchNorm2d(c_out))
        self.act_out = activation(abits, out_feeds_quantized, init_clip)

    def forward(self, x):
        y = self.act_a(self.bn_a(self.conv_a(x)))
        y = self.bn_b(self.conv_b(y))
        s = x if self.shortcut is None else self.shortcut(x)
        return self.act_out(y + s)


class CifarResNet(nn.Module):
    def __init__(self, depth_blocks, widths=(16, 32, 64), in_channels=3, classes=10, wbits=32, abits=32,
                 quantizer="sawb", init_clip=10.0):
        super().__init__()
        self.stem = nn.Conv2d(in_channels, widths[0], 3, padding=1, bias=False)  # full precision
        self.stem_bn = nn.BatchNorm2d(widths[0])
        self.stem_act = activation(abits, True, init_clip)
        blocks = []
        c_in = widths[0]
        total = 3 * depth_blocks
        for stage, c_out in enumerate(widths):
            for b in range(depth_blocks):
                stride = 2 if stage > 0 and b == 0 else 1
                last = len(blocks) == total - 1
                blocks.append(BasicBlock(c_in, c_out, stride, wbits, abits, quantizer, not last, init_clip))
                c_in = c_out
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(c_in, classes)  # full precision, PyTorch's default init
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")

    def forward(self, x):
        x = self.stem_act(self.stem_bn(self.stem(x)))
        x = self.blocks(x)
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return self.fc(x)


def parameter_groups(model, weight_decay, clip_l2=0.001):
    """Weight decay on conv/FC weights and the FC bias; PACT clips get their own L2 (0.001);
    BN gamma/beta none -- as nce's Parameter::weight_decay / clip_l2."""
    decay, clips, none = [], [], []
    for module in model.modules():
        if isinstance(module, Pact):
            clips.append(module.clip)
        elif isinstance(module, nn.BatchNorm2d):
            none.extend(module.parameters(recurse=False))
        elif isinstance(module, (nn.Conv2d, nn.Linear)):
            decay.extend(module.parameters(recurse=False))
    assert len(decay) + len(clips) + len(none) == len(list(model.parameters()))
    return [{"params": decay, "weight_decay": weight_decay},
            {"params": clips, "weight_decay": clip_l2},
            {"params": none, "weight_decay": 0.0}]


def build(args, in_channels=3):
    if args.model not in CIFAR_BLOCKS:
        sys.exit("peer_pytorch.py: unsupported --model %s (CIFAR ResNets only)" % args.model)
    wbits = args.weight_bits if args.weight_bits else args.bits
    abits = args.act_bits if args.act_bits else args.bits
    return CifarResNet(CIFAR_BLOCKS[args.model], in_channels=in_channels, wbits=wbits, abits=abits,
                       quantizer=args.quantizer, init_clip=args.pact_init), wbits, abits


def lr_at(step, base, total, warmup, final=0.0):
    """nce's CosineSchedule (nn/include/nce/nn/schedule.h)."""
    if step < warmup:
        return base * (step + 1) / warmup
    span = total - warmup
    p = 1.0 if span <= 0 else min(max((step - warmup) / span, 0.0), 1.0)
    return final + (base - final) * 0.5 * (1 + math.cos(math.pi * p))


def speed(args):
    torch.manual_seed(1)
    model, wbits, abits = build(args)
    opt = torch.optim.SGD(parameter_groups(model, 5e-4), lr=0.01, momentum=0.9, nesterov=True)
    x = torch.randn(args.batch, 3, 32, 32)
    y = torch.randint(0, 10, (args.batch,))
    model.train()

    def step():
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()

    for _ in range(args.warmup):
        step()
    times = []
    for _ in range(args.steps):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    total = sum(times)
    print(json.dumps({
        "what": "train", "engine": "pytorch", "torch": torch.__version__, "model": args.model,
        "bits": wbits if wbits == abits else None, "weight_bits": wbits, "activation_bits": abits,
        "quantizer": args.quantizer, "batch": args.batch, "steps": args.steps,
        "threads": torch.get_num_threads(), "images_per_s": args.batch * args.steps / total,
        "ms_per_step": 1000 * total / args.steps, "ms_per_step_min": 1000 * min(times),
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0}))


def infer_speed(args):
    torch.manual_seed(1)
    torch.set_flush_denormal(True)
    model, wbits, abits = build(args)
    model.eval()
    x = torch.randn(args.batch, 3, 32, 32)
    with torch.no_grad():
        for _ in range(args.warmup):
            model(x)
        times = []
        for _ in range(args.steps):
            t0 = time.perf_counter()
            model(x)
            times.append(time.perf_counter() - t0)
    total = sum(times)
    print(json.dumps({
        "what": "infer", "engine": "pytorch", "torch": torch.__version__, "model": args.model,
        "weight_bits": wbits, "activation_bits": abits, "batch": args.batch, "steps": args.steps,
        "threads": torch.get_num_threads(), "images_per_s": args.batch * args.steps / total,
        "ms_per_step": 1000 * total / args.steps, "ms_per_step_min": 1000 * min(times),
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0}))


def read_cifar(path):
    raw = np.fromfile(path, dtype=np.uint8)
    if raw.size == 0 or raw.size % 3073:
        sys.exit("peer_pytorch.py: %s: not a CIFAR-10 batch (%d bytes)" % (path, raw.size))
    raw = raw.reshape(-1, 3073)
    return raw[:, 1:].reshape(-1, 3, 32, 32), raw[:, 0].astype(np.int64)


def first_per_class(images, labels, n):
    keep, taken = [], [0] * 10
    for i, l in enumerate(labels):
        if taken[l] < n:
            taken[l] += 1
            keep.append(i)
    return images[keep], labels[keep]


def train(args):
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    parts = [read_cifar(os.path.join(args.train_data, "data_batch_%d.bin" % b)) for b in range(1, 6)]
    train_x = np.concatenate([p[0] for p in parts])
    train_y = np.concatenate([p[1] for p in parts])
    test_x, test_y = read_cifar(os.path.join(args.train_data, "test_batch.bin"))
    if args.subset:
        train_x, train_y = first_per_class(train_x, train_y, args.subset)
    if args.test_subset:
        test_x, test_y = first_per_class(test_x, test_y, args.test_subset)
    scaled = train_x.astype(np.float64) / 255.0
    mean = scaled.mean(axis=(0, 2, 3)).astype(np.float32)
    std = scaled.std(axis=(0, 2, 3)).astype(np.float32)
    del scaled

    def normalize(batch):
        return (torch.from_numpy(batch).float() / 255.0 - torch.from_numpy(mean)[:, None, None]) / \
            torch.from_numpy(std)[:, None, None]

    model, wbits, abits = build(args)
    opt = torch.optim.SGD(parameter_groups(model, args.weight_decay), lr=args.lr, momentum=0.9, nesterov=True)
    n = len(train_y)
    steps_per_epoch = (n + args.batch - 1) // args.batch
    if args.max_batches:
        steps_per_epoch = min(steps_per_epoch, args.max_batches)
    total = steps_per_epoch * args.epochs
    warmup = steps_per_epoch * args.warmup_epochs
    padded = np.zeros((n, 3, 40, 40), dtype=np.uint8)
    padded[:, :, 4:36, 4:36] = train_x
    history = []
    for epoch in range(args.epochs):
        model.train()
        order = rng.permutation(n)
        t0 = time.perf_counter()
        loss_sum, correct, seen = 0.0, 0, 0
        for b in range(steps_per_epoch):
            idx = order[b * args.batch:(b + 1) * args.batch]
            if len(idx) == 0:
                break
            dy = rng.integers(0, 9, len(idx))
            dx = rng.integers(0, 9, len(idx))
            flip = rng.integers(0, 2, len(idx)).astype(bool)
            batch = np.empty((len(idx), 3, 32, 32), dtype=np.uint8)
            for k, i in enumerate(idx):
                crop = padded[i, :, dy[k]:dy[k] + 32, dx[k]:dx[k] + 32]
                batch[k] = crop[:, :, ::-1] if flip[k] else crop
            x = normalize(batch)
            y = torch.from_numpy(train_y[idx])
            lr = lr_at(epoch * steps_per_epoch + b, args.lr, total, warmup)
            for g in opt.param_groups:
                g["lr"] = lr
            opt.zero_grad(set_to_none=True)
            out = model(x)
            loss = F.cross_entropy(out, y)
            loss.backward()
            opt.step()
            loss_sum += loss.item() * len(idx)
            correct += (out.argmax(1) == y).sum().item()
            seen += len(idx)
        seconds = time.perf_counter() - t0
        top1, top5, test_loss = evaluate(model, test_x, test_y, normalize)
        history.append({"epoch": epoch + 1, "loss": loss_sum / seen, "top1": 100.0 * correct / seen, "lr": lr,
                        "seconds": seconds, "images_per_s": seen / seconds, "test_top1": top1,
                        "test_top5": top5, "test_loss": test_loss})
        print("pytorch epoch %d/%d loss %.4f train %.2f%% test %.2f%% %.1f img/s" %
              (epoch + 1, args.epochs, loss_sum / seen, 100.0 * correct / seen, top1, seen / seconds),
              file=sys.stderr, flush=True)
    top1, top5, test_loss = evaluate(model, test_x, test_y, normalize)
    print(json.dumps({"what": "train", "engine": "pytorch", "model": args.model, "dataset": "cifar10",
                      "weight_bits": wbits, "activation_bits": abits, "quantizer": args.quantizer,
                      "epochs": history, "test": {"top1": top1, "top5": top5, "loss": test_loss,
                                                  "images": int(len(test_y))}}))


def evaluate(model, images, labels, normalize, batch=500):
    model.eval()
    top1 = top5 = 0
    loss_sum = 0.0
    with torch.no_grad():
        for i in range(0, len(labels), batch):
            x = normalize(images[i:i + batch])
            y = torch.from_numpy(labels[i:i + batch])
            out = model(x)
            loss_sum += F.cross_entropy(out, y, reduction="sum").item()
            rank = (out > out.gather(1, y[:, None])).sum(1)
            top1 += (rank == 0).sum().item()
            top5 += (rank < 5).sum().item()
    return 100.0 * top1 / len(labels), 100.0 * top5 / len(labels), loss_sum / len(labels)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="resnet20")
    p.add_argument("--bits", type=int, default=32, help="weight and activation bits (2, 3, 4, 8, 32)")
    p.add_argument("--weight-bits", type=int, default=0)
    p.add_argument("--act-bits", type=int, default=0)
    p.add_argument("--quantizer", default="sawb", choices=["sawb", "dorefa"])
    p.add_argument("--pact-init", type=float, default=10.0)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--steps", type=int, default=10, help="speed: timed steps")
    p.add_argument("--warmup", type=int, default=2, help="speed: untimed steps first")
    p.add_argument("--train-data", default="", help="train on CIFAR-10 from this directory")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--lr", type=float, default=0.1)
    p.add_argument("--warmup-epochs", type=int, default=0)
    p.add_argument("--weight-decay", type=float, default=5e-4)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--subset", type=int, default=0, help="first N training images per class")
    p.add_argument("--test-subset", type=int, default=0, help="first N test images per class")
    p.add_argument("--max-batches", type=int, default=0)
    p.add_argument("--infer", action="store_true", help="time eval-mode forwards (no_grad)")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    if args.infer:
        infer_speed(args)
    elif args.train_data:
        train(args)
    else:
        speed(args)


if __name__ == "__main__":
    main()
