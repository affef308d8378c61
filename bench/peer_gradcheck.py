#!/usr/bin/python3
"""Step-for-step check of nce's trainer against the PyTorch peer (bench/peer_pytorch.py).

nce trains ONE SGD step on one batch that holds the whole (small) training subset, and writes a
checkpoint. With Nesterov momentum the first step is w1 = w0 - lr*(1+mu)*b1 where the momentum buffer
b1 = g + decay*w0, so the checkpoint gives back the initial weights w0 and nce's gradient g exactly.
This script loads w0 into the PyTorch model, runs the same batch in train mode (batch statistics:
the order of the images does not matter) and compares: the loss, every parameter's gradient
(relative L2 error), and the BN running statistics after the step.

With --trajectory RUN.ckpt (a second nce run, same seed and data, N epochs of that one full batch,
i.e. N SGD steps with its own warm-up + cosine schedule) the script also trains N steps in PyTorch
from the same initial weights and compares the loss of every step and the final weights, momentum
buffers and BN running statistics: the optimizer, the schedule and the running statistics over many
steps, not just one gradient.

Usage (what bench/compare_train_steps.sh does):
  nce train --model resnet20 --dataset cifar10 --data DIR --subset 10 --batch 128 --epochs 1 \
      --bits 2 --augment off --no-epoch-test --test-subset 1 --checkpoint step.ckpt
  nce train ... the same ... --epochs 30 --warmup-epochs 3 --checkpoint run.ckpt
  bench/peer_gradcheck.py --checkpoint step.ckpt --data DIR --subset 10 [--trajectory run.ckpt]
"""
import argparse
import os
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peer_pytorch as peer  # noqa: E402


def read_checkpoint(path):
    """nn/include/nce/nn/checkpoint.h, version 1."""
    b = open(path, "rb").read()
    if b[:8] != b"NCECKPT\0":
        sys.exit("%s: not an nce checkpoint" % path)
    pos = [24]

    def take(fmt):
        v = struct.unpack_from(fmt, b, pos[0])
        pos[0] += struct.calcsize(fmt)
        return v[0]

    def string():
        n = take("<I")
        s = b[pos[0]:pos[0] + n].decode()
        pos[0] += n
        return s

    def buffers():
        out = {}
        for _ in range(take("<I")):
            name = string()
            n = take("<Q")
            out[name] = np.frombuffer(b, dtype="<f4", count=n, offset=pos[0]).astype(np.float64)
            pos[0] += 4 * n
        return out

    ck = {"model": string()}
    ck["widths"] = [take("<i") for _ in range(take("<I"))]
    ck["options"] = dict((string(), string()) for _ in range(take("<I")))
    ck["epochs_done"] = take("<i")
    ck["rng"] = string()
    ck["history"] = string()
    ck["network"] = buffers()
    ck["optimizer"] = string()
    ck["steps"] = take("<q")
    ck["buffers"] = buffers()
    return ck


def torch_name(nce_name):
    """nce parameter/buffer name -> the peer model's state_dict key."""
    if nce_name.startswith("fc."):
        return nce_name
    parts = nce_name.split(".")
    bn_map = {"gamma": "weight", "beta": "bias", "running_mean": "running_mean", "running_var": "running_var"}
    if parts[0] == "stem":
        if parts[1] == "weight":
            return "stem.weight"
        if parts[1] == "bn":
            return "stem_bn." + bn_map[parts[2]]
        if parts[1] == "act_clip":
            return "stem_act.clip"
    stage, block = int(parts[0][1]), int(parts[0][3:])
    return "blocks.%d.%s" % ((stage - 1) * BLOCKS_PER_STAGE + block - 1, block_name(parts[1:], bn_map))


def block_name(parts, bn_map):
    if parts[0] == "out_clip":
        return "act_out.clip"
    if parts[0] == "shortcut":
        return "shortcut.1.weight" if parts[1] == "weight" else "shortcut.2." + bn_map[parts[2]]
    conv = parts[0][-1]  # conv_a / conv_b
    if parts[1] == "weight":
        return "conv_%s.weight" % conv
    if parts[1] == "bn":
        return "bn_%s.%s" % (conv, bn_map[parts[2]])
    if parts[1] == "act_clip":
        return "act_%s.clip" % conv
    raise KeyError(".".join(parts))


BLOCKS_PER_STAGE = 3


def main():
    global BLOCKS_PER_STAGE
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--data", required=True, help="cifar-10-batches-bin directory")
    p.add_argument("--subset", type=int, required=True, help="the --subset nce was given")
    p.add_argument("--tolerance", type=float, default=5e-3,
                   help="max relative L2 error (float32 sums in another order differ by ~1e-3)")
    p.add_argument("--trajectory", default="", help="an N-step checkpoint of the same run to follow")
    p.add_argument("--trajectory-factor", type=float, default=4.0,
                   help="nce may be at most this many times further from PyTorch's float64 run than "
                        "PyTorch's float32 run is")
    args = p.parse_args()
    torch.set_num_threads(2)
    ck = read_checkpoint(args.checkpoint)
    o = ck["options"]
    if ck["steps"] != 1 or ck["optimizer"] != "sgd" or o["nesterov"] != "1":
        sys.exit("need a checkpoint after exactly one Nesterov SGD step (got %s, %d steps)" % (ck["optimizer"], ck["steps"]))
    if o["augment"] != "0":
        sys.exit("need --augment off")
    BLOCKS_PER_STAGE = peer.CIFAR_BLOCKS[ck["model"]]
    wd = float(o["weight_decay"])
    clip_l2 = float(o["pact_clip_l2"])
    wbits, abits = int(o["weight_bits"]), int(o["activation_bits"])

    ns = argparse.Namespace(model=ck["model"], bits=32, weight_bits=wbits, act_bits=abits,
                            quantizer=o["quantizer"], pact_init=float(o["pact_init_clip"]))
    model, _, _ = peer.build(ns)
    state = model.state_dict()
    params = dict(model.named_parameters())

    # Initial weights and nce's gradients from the step.
    for name in ck["network"]:
        if torch_name(name) not in state:
            sys.exit("no peer tensor for nce's %s (%s)" % (name, torch_name(name)))
    w0 = initial_weights(ck)
    nce_grad = {}
    for name, (key, w) in w0.items():
        decay = clip_l2 if name.endswith("clip") else (0.0 if ".bn." in name else wd)
        nce_grad[key] = ck["buffers"][name + ".momentum"] - decay * w
        with torch.no_grad():
            state[key].copy_(torch.from_numpy(w.reshape(state[key].shape)).float())
    model.load_state_dict(state)

    parts = [peer.read_cifar(os.path.join(args.data, "data_batch_%d.bin" % i)) for i in range(1, 6)]
    x = np.concatenate([q[0] for q in parts])
    y = np.concatenate([q[1] for q in parts])
    x, y = peer.first_per_class(x, y, args.subset)
    if len(y) > int(o["batch"]):
        sys.exit("the subset (%d images) must fit in one batch (%s)" % (len(y), o["batch"]))
    scaled = x.astype(np.float64) / 255.0
    mean = scaled.mean(axis=(0, 2, 3))
    std = scaled.std(axis=(0, 2, 3))
    images = ((torch.from_numpy(x).double() / 255.0 - torch.from_numpy(mean)[:, None, None]) /
              torch.from_numpy(std)[:, None, None]).float()
    model.train()
    loss = F.cross_entropy(model(images), torch.from_numpy(y))
    loss.backward()
    nce_loss = float(ck["history"].split()[1])
    print("loss: nce %.6f  pytorch %.6f" % (nce_loss, loss.item()))

    worst, failures = 0.0, 0
    after = model.state_dict()
    for name in ck["network"]:
        key = torch_name(name)
        if name.endswith("running_mean") or name.endswith("running_var"):
            ref = after[key].double().numpy().ravel()
            err = np.linalg.norm(ck["network"][name] - ref) / max(np.linalg.norm(ref), 1e-12)
            kind = "running"
        else:
            g = params[key].grad.double().numpy().ravel()
            # Gradients that are ~0 (a PACT clip no activation reaches) compare absolutely.
            err = np.linalg.norm(nce_grad[key] - g) / max(np.linalg.norm(g), 1e-5)
            kind = "grad"
        worst = max(worst, err)
        bad = err > args.tolerance
        failures += bad
        print("%-7s %-28s rel err %.2e%s" % (kind, name, err, "  <-- differs" if bad else ""))
    print("worst relative error %.2e over %d tensors; %d above %.0e" % (worst, len(ck["network"]), failures, args.tolerance))
    failed = failures or abs(nce_loss - loss.item()) > 1e-4 * max(1.0, abs(nce_loss))
    if args.trajectory:
        failed |= follow_trajectory(args, ck, images, torch.from_numpy(y))
    return 1 if failed else 0


def initial_weights(ck):
    """nce parameter name -> (peer state_dict key, w0) from a checkpoint after one Nesterov step:
    w0 = w1 + lr*(1+mu)*b1 (running statistics are not parameters)."""
    lr, mu = float(ck["options"]["lr"]), float(ck["options"]["momentum"])
    return {name: (torch_name(name), w1 + lr * (1 + mu) * ck["buffers"][name + ".momentum"])
            for name, w1 in ck["network"].items()
            if not (name.endswith("running_mean") or name.endswith("running_var"))}


def follow_trajectory(args, first, images, labels):
    """Trains the nce run's N full-batch steps in PyTorch from the first checkpoint's w0; compares."""
    ck = read_checkpoint(args.trajectory)
    o = ck["options"]
    if ck["model"] != first["model"]:
        sys.exit("%s: model %s, the one-step checkpoint's is %s" % (args.trajectory, ck["model"], first["model"]))
    same = ("weight_bits", "activation_bits", "quantizer", "seed", "batch", "train_images",
            "lr", "momentum", "weight_decay", "pact_clip_l2", "augment")
    for key in same:
        if o[key] != first["options"][key]:
            sys.exit("%s: %s = %s, but the one-step checkpoint has %s" % (args.trajectory, key, o[key],
                                                                         first["options"][key]))
    if ck["optimizer"] != "sgd" or o["nesterov"] != "1":
        sys.exit("%s: need a Nesterov SGD run" % args.trajectory)
    steps = ck["steps"]
    if steps != ck["epochs_done"]:
        sys.exit("%s: %d steps in %d epochs: the subset must be one batch" % (args.trajectory, steps,
                                                                            ck["epochs_done"]))
    lr, mu, wd = float(o["lr"]), float(o["momentum"]), float(o["weight_decay"])
    epochs, warmup = int(o["epochs"]), int(o["warmup_epochs"])
    final_lr = float(o["final_lr"])
    ns = argparse.Namespace(model=ck["model"], bits=32, weight_bits=int(o["weight_bits"]),
                            act_bits=int(o["activation_bits"]), quantizer=o["quantizer"],
                            pact_init=float(o["pact_init_clip"]))
    w0 = initial_weights(first)

    def follow(dtype):
        """PyTorch's N steps in dtype: per-step losses and the final state (flat float64 arrays)."""
        model, _, _ = peer.build(ns)
        model = model.to(dtype)
        state = model.state_dict()
        for key, value in w0.values():
            state[key].copy_(torch.from_numpy(value.reshape(state[key].shape)))
        model.load_state_dict(state)
        opt = torch.optim.SGD(peer.parameter_groups(model, wd, float(o["pact_clip_l2"])), lr=lr,
                              momentum=mu, nesterov=True)
        model.train()
        losses = []
        for step in range(steps):
            for g in opt.param_groups:
                g["lr"] = peer.lr_at(step, lr, epochs, warmup, final_lr)
            opt.zero_grad(set_to_none=True)
            loss = F.cross_entropy(model(images.to(dtype)), labels)
            loss.backward()
            opt.step()
            losses.append(loss.item())
        after, params = model.state_dict(), dict(model.named_parameters())
        out = {}
        for name in ck["network"]:
            key = torch_name(name)
            out[name] = after[key].double().numpy().ravel()
            if key in params:
                out[name + ".momentum"] = opt.state[params[key]]["momentum_buffer"].double().numpy().ravel()
        return losses, out

    f32_losses, f32 = follow(torch.float32)
    f64_losses, f64 = follow(torch.float64)
    nce_losses = [float(line.split()[1]) for line in ck["history"].strip().split("\n")]
    mine = dict(ck["network"])
    mine.update(ck["buffers"])
    for step in sorted({0, 1, steps // 2, steps - 1}):
        print("step %3d loss: nce %.6f  pytorch float32 %.6f  float64 %.6f" % (
            step + 1, nce_losses[step], f32_losses[step], f64_losses[step]))

    def rel(values, group):
        names = [n for n in f64 if group(n)]
        ref = np.concatenate([f64[n] for n in names])
        return np.linalg.norm(np.concatenate([values[n] for n in names]) - ref) / np.linalg.norm(ref)

    groups = [("weights", lambda n: not n.endswith(".momentum") and "running" not in n),
              ("momenta", lambda n: n.endswith(".momentum")),
              ("running stats", lambda n: "running" in n)]
    failed = False
    loss_nce = max(abs(a - b) for a, b in zip(nce_losses, f64_losses))
    loss_f32 = max(abs(a - b) for a, b in zip(f32_losses, f64_losses))
    # Float32 rounding alone moves a trajectory this far from float64; nce may round differently
    # (another summation order) but must stay within a few times that.
    bound = lambda floor: max(args.trajectory_factor * floor, 1e-5)
    failed |= loss_nce > bound(loss_f32)
    print("trajectory, %d steps, distance from PyTorch float64 (nce / PyTorch float32):" % steps)
    print("  loss (max abs over steps)  %.2e / %.2e%s" % (loss_nce, loss_f32,
                                                        "  <-- differs" if loss_nce > bound(loss_f32) else ""))
    for label, group in groups:
        e_nce, e_f32 = rel(mine, group), rel(f32, group)
        bad = e_nce > bound(e_f32)
        failed |= bad
        print("  %-26s %.2e / %.2e%s" % (label + " (relative L2)", e_nce, e_f32, "  <-- differs" if bad else ""))
    return failed


if __name__ == "__main__":
    sys.exit(main())
