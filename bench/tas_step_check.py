#!/usr/bin/python3
"""Step-for-step check of nce's supernet against TAS's own code (AutoDL-Projects, D-X-Y).

bench/compare_tas_step.sh runs build/bench/nce_search_dump, which writes one nce search iteration
(initial weights, BN state and alpha; the Gumbel noise and the drawn indices of both steps; the
weight step's CE, logits and every gradient; the state after it and after the SGD update; the
architecture step's CE, its CE alpha gradient, the expected MACs, the argmax MACs and the TAS cost
loss with their alpha gradients). This script builds AutoDL-Projects' SearchWidthCifarResNet
(ResNet-20, width search) from the checkout given with --autodl (nothing of it is part of nce),
loads nce's tensors into it and replays the iteration with TAS's own forward, select2withP,
ChannelWiseInter, get_flop and get_flop_loss:

  * the draws: TAS's select2withP runs on nce's Gumbel noise (its exponential_ sample is replaced
    by exp(-g)) and takes nce's two indices in place of its multinomial sample; TAS's softmax(z) and
    mixing weights are compared with nce's, and nce's index rule (two without replacement from
    softmax(z)) is tested on --rule-draws extra draws per layer (standardized residuals; TAS's own
    torch.multinomial on the same probabilities is the control);
  * the weight step: logits, CE, every weight gradient (BN per candidate: nce's slot s holds the
    layer's widest channel count, TAS's BNs[s] only the candidate's, so nce's tail must be 0), the
    CE alpha gradient, the BN running statistics after the step;
  * the SGD update of nce's nn::Sgd against torch.optim.SGD on TAS's gradients, once grouped as
    TAS's search-shape.py does (weight decay on every base parameter, BN gamma/beta included) and
    once with BN gamma/beta undecayed (nce's rule); the first has its own RESULT line;
  * the architecture step on nce's post-update weights: CE, expected FLOPs and dE/dalpha, the
    argmax FLOPs, the FLOPs loss and its alpha gradient, the total alpha gradient.

TAS's issue #65 (no ReLU on a basic block's output in search mode) is fixed at run time: the
block's search_forward is wrapped with a ReLU (idempotent where the checkout already has the fix).

Everything is computed twice in TAS: in float32 (as nce) and in float64. A tensor passes when nce's
relative L2 difference to TAS float64 is within FP32_FACTOR times TAS float32's largest over the
same quantity (REL_FLOOR at least, REL_MAX at most; see the tolerances below). TAS has no
quantizer: for a W2A2 dump (nce_search_dump --bits 2) the harness adds nce's SAWB and PACT to TAS's
supernet at run time (add_quantizers: which layers, which slice, which activations).

Two TAS variants are run (--shortcut-bn): "tas", its code as is, and "none", the same without the
BatchNorm that TAS's search mode applies on the stride-2 shortcut (ConvBNReLU.search_forward calls
BNs[idx] even where has_bn=False; basic mode and TAS's derived network have no BN there, nor has
nce). The exit status is 0 only if every requested variant passes.

Usage: bench/tas_step_check.py --autodl DIR --dump DIR
"""
import argparse
import copy
import inspect
import math
import os
import sys
import types

import numpy as np
import torch
import torch.nn.functional as F

# Named tolerances.
# A tensor's difference is its relative L2 error ||nce - TAS64|| / ||TAS64||. Float32 is not a
# fixed small noise here: a pre-activation within rounding of 0 takes the other side of a ReLU in
# one engine (measured: one such element in s3b2.conv_a of seed 1 moves every gradient upstream of
# it by ~1e-3 in TAS's own float32 run, through the BN backward's channel means). So the noise
# scale of a quantity (weight gradients, BN gradients, alpha gradients, ...) is the largest error
# of TAS float32 over that quantity's tensors, and nce passes when every tensor is within
FP32_FACTOR = 10.0   # ... this many times that noise,
REL_FLOOR = 1e-5     # ... or this (relative L2), whichever is larger,
REL_MAX = 5e-2       # and never further than this.
LOSS_REL_TOL = 1e-5  # CE and FLOPs values, relative
DRAW_TOL = 1e-6      # softmax(z) and the mixing weights, absolute (float32 alpha in TAS)
DRAW_RULE_MAX_Z = 5.0  # largest standardized residual of the index frequencies
TAIL_TOL = 0.0       # nce's BN gradient beyond a candidate's channels must be exactly 0


def load_dump(d):
    out = {"dir": d, "scalars": {}}
    for line in open(os.path.join(d, "scalars.txt")):
        k, v = line.split()
        out["scalars"][k] = float(v)
    return out


def npy(dump, name):
    return np.load(os.path.join(dump["dir"], name + ".npy"))


def state(dump, folder):
    p = os.path.join(dump["dir"], folder)
    return {f[:-4]: np.load(os.path.join(p, f)) for f in os.listdir(p) if f.endswith(".npy")}


def import_tas(autodl):
    """The TAS modules from the checkout, without xautodl.procedures' __init__ (torchvision)."""
    autodl = os.path.abspath(autodl)
    if not os.path.isfile(os.path.join(autodl, "xautodl/models/shape_searchs/SearchCifarResNet_width.py")):
        sys.exit("tas_step_check: %s is not an AutoDL-Projects checkout" % autodl)
    sys.path.insert(0, autodl)
    pkg = types.ModuleType("xautodl.procedures")
    pkg.__path__ = [os.path.join(autodl, "xautodl", "procedures")]
    sys.modules["xautodl.procedures"] = pkg
    from xautodl.models.shape_searchs import SearchCifarResNet_width as width_mod
    from xautodl.models.shape_searchs import SoftSelect
    from xautodl.models import change_key
    from xautodl.procedures.search_main import get_flop_loss
    from xautodl.utils.flop_benchmark import get_model_infos
    return types.SimpleNamespace(width=width_mod, soft=SoftSelect, change_key=change_key,
                                 get_flop_loss=get_flop_loss, get_model_infos=get_model_infos)


def fix_issue_65(tas):
    """Wraps ResNetBasicblock.search_forward with the block-output ReLU (TAS issue #65)."""
    block = tas.width.ResNetBasicblock
    already = "relu" in inspect.getsource(block.search_forward)
    original = block.search_forward

    def search_forward(self, tuple_inputs):
        act = getattr(self, "nce_out_act", None)  # W2A2: PACT on a block output feeding a quantized conv
        if act is None:
            out, expected_c, expected_flop = original(self, tuple_inputs)
            return F.relu(out), expected_c, expected_flop
        # PACT replaces the block's output ReLU (as in nce): TAS's own relu call in this method, its
        # only one (conv_a's activation is a module, already PACT), is the identity meanwhile. ReLU
        # then PACT would differ from PACT alone at x == 0 exactly: no gradient there, where PACT's
        # straight-through [0, a] passes it -- and a residual-only channel (a block input wider than
        # its conv_b output) holds the previous PACT's exact zeros.
        relu = F.relu
        F.relu = lambda x, inplace=False: x
        try:
            out, expected_c, expected_flop = original(self, tuple_inputs)
        finally:
            F.relu = relu
        return act(out), expected_c, expected_flop

    block.search_forward = search_forward
    return already


def add_quantizers(tas, model, bits, init_clip):
    """W<b>A<b> on TAS's supernet with nce's rules (search/include/nce/search/supernet.h): SAWB on
    conv_a/conv_b weights (stem, shortcuts and FC full precision) over the active slice [0, c_max)
    x [0, c_in) that the step uses; PACT (one learnable clip each) on the stem output, every conv_a
    output and every block output that feeds a quantized conv (all but the last block, which keeps
    its ReLU). The PACT and SAWB functions are bench/peer_pytorch.py's (nce's PyTorch peer)."""
    import peer_pytorch as peer
    model.layers[0].relu = peer.Pact(bits, init_clip)
    blocks = [l for l in model.layers if isinstance(l, tas.width.ResNetBasicblock)]
    for i, b in enumerate(blocks):
        b.conv_a.conv.nce_weight_bits = bits
        b.conv_b.conv.nce_weight_bits = bits
        b.conv_a.relu = peer.Pact(bits, init_clip)
        if i + 1 < len(blocks):
            b.nce_out_act = peer.Pact(bits, init_clip)
    if getattr(tas.width, "nce_original_conv_forward", None) is None:
        original = tas.width.conv_forward
        tas.width.nce_original_conv_forward = original

        def conv_forward(inputs, conv, choices):
            wbits = getattr(conv, "nce_weight_bits", 32)
            if wbits >= 32:
                return original(inputs, conv, choices)
            # Same as TAS's zero padding + full conv + slicing, on the active slice only, so that
            # SAWB's statistics are those of the weights the step uses.
            w = conv.weight[:max(choices), :inputs.size(1)]
            out = F.conv2d(inputs, peer.SawbQuantize.apply(w, wbits), None, conv.stride, conv.padding)
            return [out[:, :c] for c in choices]

        tas.width.conv_forward = conv_forward


class InjectedDraws:
    """Replaces the width module's select2withP by TAS's own, fed with nce's noise and indices."""

    def __init__(self, tas):
        self.original = tas.soft.select2withP
        self.gumbel = self.index = None
        self.seen = {}
        tas.width.select2withP = self.select

    def set(self, gumbel, index):
        self.gumbel, self.index = gumbel, index

    def select(self, logits, tau, just_prob=False, num=2, eps=1e-7):
        uniform_exp = torch.exp(-torch.from_numpy(self.gumbel)).to(logits.dtype)
        index = torch.from_numpy(self.index.astype(np.int64))
        seen = self.seen
        real_exp, real_multinomial = torch.Tensor.exponential_, torch.multinomial

        def exponential_(tensor, *args, **kwargs):
            return tensor.copy_(uniform_exp)

        def multinomial(probs, n, replacement=False, **kwargs):
            assert n == 2 and not replacement, "select2withP draws 2 without replacement"
            seen["probs"] = probs.detach().double().numpy().copy()
            return index.clone()

        torch.Tensor.exponential_, torch.multinomial = exponential_, multinomial
        try:
            out = self.original(logits, tau, just_prob, num, eps)
        finally:
            torch.Tensor.exponential_, torch.multinomial = real_exp, real_multinomial
        seen["weights"] = out[1].detach().double().numpy().copy()
        seen["index"] = out[0].numpy().copy()
        return out


def tas_key(nce_name):
    """nce Supernet tensor name -> TAS state_dict key."""
    parts = nce_name.split(".")
    if parts[0] == "fc":
        return "classifier." + parts[1]
    if parts == ["stem", "act_clip"]:
        return "layers.0.relu.clip"
    if len(parts) == 2 and parts[1] == "out_clip":
        stage, block = int(parts[0][1]), int(parts[0][3:])
        return "layers.%d.nce_out_act.clip" % ((stage - 1) * 3 + block)
    if parts[-1] == "act_clip":
        stage, block = int(parts[0][1]), int(parts[0][3:])
        return "layers.%d.%s.relu.clip" % ((stage - 1) * 3 + block, parts[1])
    if parts[0] == "stem":
        prefix, rest = "layers.0.", parts[1:]
    else:
        stage, block = int(parts[0][1]), int(parts[0][3:])
        unit = {"conv_a": "conv_a.", "conv_b": "conv_b.", "shortcut": "downsample."}[parts[1]]
        prefix, rest = "layers.%d.%s" % ((stage - 1) * 3 + block, unit), parts[2:]
    if rest == ["weight"]:
        return prefix + "conv.weight"
    if rest[0].startswith("bn"):
        field = {"gamma": "weight", "beta": "bias", "running_mean": "running_mean",
                 "running_var": "running_var"}[rest[1]]
        return prefix + "BNs.%s.%s" % (rest[0][2:], field)
    raise KeyError("no TAS tensor for nce's %s" % nce_name)


def load_into(model, nce_state, with_buffers=True):
    sd = model.state_dict()
    with torch.no_grad():
        for name, value in nce_state.items():
            key = tas_key(name)
            if not with_buffers and "running" in key:
                continue
            t = sd[key]
            t.copy_(torch.from_numpy(value[:t.numel()].reshape(t.shape)).to(t.dtype))


def rel(a, ref):
    a, ref = np.asarray(a, np.float64).ravel(), np.asarray(ref, np.float64).ravel()
    d = np.linalg.norm(a - ref)
    n = np.linalg.norm(ref)
    return 0.0 if d == 0 else d / max(n, 1e-30)


def max_rel(a, ref):
    a, ref = np.asarray(a, np.float64).ravel(), np.asarray(ref, np.float64).ravel()
    d = np.abs(a - ref).max() if a.size else 0.0
    return 0.0 if d == 0 else d / max(np.abs(ref).max(), 1e-30)


class Report:
    def __init__(self):
        self.rows, self.failures, self.notes = [], 0, []
        self.worst, self.pending = {}, {}
        self.optimizer_failures = 0

    def tensor(self, quantity, name, nce, t64, t32):
        """Collected; judged in finish() against the float32 noise of TAS over the same quantity."""
        e, e32 = rel(nce, t64), rel(t32, t64)
        self.pending.setdefault(quantity, []).append((name, e, max_rel(nce, t64), e32))
        return e

    def finish(self):
        for quantity, items in self.pending.items():
            noise = max(it[3] for it in items)
            limit = min(max(FP32_FACTOR * noise, REL_FLOOR), REL_MAX)
            worst = max(items, key=lambda it: it[1])
            bad = sum(it[1] > limit for it in items)
            if quantity.startswith("SGD update as TAS"):
                self.optimizer_failures += bad
            else:
                self.failures += bad
            for name, e, mr, e32 in items:
                self.rows.append((quantity, name, e, mr, e32, limit, e > limit))
            self.worst[quantity] = [worst[1], worst[0], noise, len(items), bad, limit]
        self.pending = {}

    def scalar(self, quantity, nce, t64, t32, tol=LOSS_REL_TOL):
        e = abs(nce - t64) / max(abs(t64), 1e-30)
        e32 = abs(t32 - t64) / max(abs(t64), 1e-30)
        bad = e > tol
        self.failures += bad
        self.rows.append((quantity, "", e, e, e32, tol, bad))
        self.worst[quantity] = [e, "", e32, 1, int(bad), tol]
        print("%-28s nce %.9g  TAS f64 %.9g  TAS f32 %.9g  rel %.2e%s" %
              (quantity, nce, t64, t32, e, "  <-- differs" if bad else ""))

    def check(self, what, ok, detail):
        self.failures += not ok
        print("%-28s %s%s" % (what, detail, "" if ok else "  <-- differs"))


def softmax_rows(z):
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def draw_rule_z(q, idx):
    """Standardized residuals of the first and second index against sampling 2 without
    replacement from q (per row); returns the (layers x candidates x 2) z-scores."""
    rows, k = q.shape
    r = np.arange(rows)
    one0 = np.zeros_like(q)
    one0[r, idx[:, 0]] = 1
    q2 = q.copy()
    q2[r, idx[:, 0]] = 0
    q2 /= q2.sum(axis=1, keepdims=True)
    one1 = np.zeros_like(q)
    one1[r, idx[:, 1]] = 1
    return one0 - q, q * (1 - q), one1 - q2, q2 * (1 - q2)


def rule_scores(q, idx, layers):
    a, va, b, vb = draw_rule_z(q, idx)
    k = q.shape[1]
    za = a.reshape(-1, layers, k).sum(0) / np.sqrt(va.reshape(-1, layers, k).sum(0))
    zb = b.reshape(-1, layers, k).sum(0) / np.sqrt(vb.reshape(-1, layers, k).sum(0))
    return max(np.abs(za).max(), np.abs(zb).max())


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--autodl", required=True, help="a checkout of github.com/D-X-Y/AutoDL-Projects")
    p.add_argument("--dump", required=True, help="the directory nce_search_dump wrote")
    p.add_argument("--all", action="store_true", help="print every tensor, not only the worst")
    p.add_argument("--shortcut-bn", default="tas,none",
                   help="TAS variants to compare, comma separated: tas (its code as is), none (no BN on "
                        "the stride-2 shortcut in search mode, as nce and TAS's derived network)")
    args = p.parse_args()
    torch.set_flush_denormal(True)
    torch.set_num_threads(2)
    dump = load_dump(args.dump)
    sc = dump["scalars"]
    if int(sc["bits"]) not in (32, 2, 3, 4, 8) or (int(sc["bits"]) < 32 and sc.get("quantizer_sawb", 1) != 1):
        sys.exit("tas_step_check: W%dA%d with another quantizer than SAWB is not supported" % sc["bits"])
    tas = import_tas(args.autodl)
    already_fixed = fix_issue_65(tas)
    print("TAS checkout %s: issue #65 block-output ReLU %s" %
          (args.autodl, "present upstream (wrapper is a no-op)" if already_fixed else "missing, patched in"))
    draws = InjectedDraws(tas)
    failed = 0
    for variant in args.shortcut_bn.split(","):
        if variant not in SHORTCUT_BN:
            sys.exit("tas_step_check: --shortcut-bn takes %s, got %s" % (",".join(SHORTCUT_BN), variant))
        print("\n######## TAS variant: %s" % SHORTCUT_BN[variant])
        failed += run_variant(args, tas, draws, dump, variant)
    return 1 if failed else 0


SHORTCUT_BN = {
    "tas": "TAS's code as is (search mode applies BNs[idx] on the stride-2 avg-pool + 1x1 shortcut too)",
    "none": "TAS with the stride-2 shortcut's search-mode BN removed (its has_bn=False, as in basic "
            "mode and in InferCifarResNet_width)",
}


def run_variant(args, tas, draws, dump, variant):
    sc = dump["scalars"]

    alpha = npy(dump, "alpha")
    cands = npy(dump, "candidates")
    s0, s1, s2 = state(dump, "state0"), state(dump, "state1"), state(dump, "state2")
    grads = state(dump, "grad_w")
    xw, yw = torch.from_numpy(npy(dump, "images_w")), torch.from_numpy(npy(dump, "labels_w").astype(np.int64))
    xa, ya = torch.from_numpy(npy(dump, "images_a")), torch.from_numpy(npy(dump, "labels_a").astype(np.int64))
    tau = sc["tau"]

    models = {}
    for dtype in (torch.float32, torch.float64):
        torch.manual_seed(0)
        m = tas.width.SearchWidthCifarResNet("ResNetBasicblock", 20, 10)
        ranges = np.array(m.Ranges)
        if ranges.shape != cands.shape or (ranges != cands).any():
            sys.exit("candidates differ: TAS %s vs nce %s" % (ranges.tolist(), cands.tolist()))
        bn_m, bn_e = sc["bn_momentum"], sc["bn_eps"]
        for mod in m.modules():
            if isinstance(mod, torch.nn.BatchNorm2d) and (abs(mod.momentum - bn_m) > 1e-7 or abs(mod.eps - bn_e) > 1e-9):
                sys.exit("BN momentum/eps differ: TAS %g/%g, nce %g/%g" % (mod.momentum, mod.eps, bn_m, bn_e))
        if variant == "none":
            for mod in m.modules():
                if isinstance(mod, tas.width.ConvBNReLU) and not mod.has_bn:
                    mod.BNs = torch.nn.ModuleList([torch.nn.Identity() for _ in mod.BNs])
        if int(sc["bits"]) < 32:
            add_quantizers(tas, m, int(sc["bits"]), sc["pact_init_clip"])
        m = m.to(dtype)
        load_into(m, s0)
        with torch.no_grad():
            m.width_attentions.copy_(torch.from_numpy(alpha).to(dtype))
        m.eval()  # basic forward once: get_flops needs the layers' in/out shapes (no state change)
        torch.set_default_dtype(dtype)
        with torch.no_grad():
            m(torch.zeros(1, 3, 32, 32, dtype=dtype))
        torch.set_default_dtype(torch.float32)
        m.apply(tas.change_key("search_mode", "search"))
        m.tau = tau
        m.train()
        models[dtype] = m
    covered = {tas_key(n) for n in s0}
    unmapped = sorted({k.split(".BNs.")[0] + ".BNs.*" if ".BNs." in k else k
                       for k in models[torch.float32].state_dict()
                       if k not in covered and not k.endswith("num_batches_tracked")
                       and not k.endswith("choices_tensor") and k != "width_attentions"})

    rep = Report()
    full_width = sc.get("full_width", 0) == 1
    # -- Draws.
    dtype_rows = {}
    for step in ("w", "a"):
        g, idx, w, z = (npy(dump, "draw_%s_%s" % (step, n)) for n in ("gumbel", "index", "weight", "z"))
        draws.set(g, idx)
        m = models[torch.float32]
        with torch.no_grad():
            tas.width.select2withP(m.width_attentions, m.tau)
        dq = np.abs(draws.seen["probs"] - softmax_rows(z)).max()
        dw = np.abs(draws.seen["weights"] - w).max()
        if full_width:
            print("draw %s: full-width diagnostic: TAS mixes the widest candidate with itself (0.5 + 0.5), "
                  "nce takes it once (weight 1); mixing weights and alpha gradients not compared" % step)
            dtype_rows[step] = (g, idx)
            continue
        rep.check("draw %s: softmax(z)" % step, dq <= DRAW_TOL, "max |TAS - nce| %.2e (tol %.0e)" % (dq, DRAW_TOL))
        rep.check("draw %s: mixing weights" % step, dw <= DRAW_TOL, "max |TAS - nce| %.2e (tol %.0e)" % (dw, DRAW_TOL))
        dtype_rows[step] = (g, idx)
    if sc.get("rule_draws", 0) > 0:
        rz, ri = npy(dump, "rule_z"), npy(dump, "rule_index")
        layers = alpha.shape[0]
        q = softmax_rows(rz)
        distinct = bool((ri[:, 0] != ri[:, 1]).all())
        z_nce = rule_scores(q, ri, layers)
        torch.manual_seed(1)
        ctl = torch.multinomial(torch.from_numpy(q).float() + 1e-7, 2, False).numpy()
        z_tas = rule_scores(q, ctl, layers)
        rep.check("draw rule (%d draws/layer)" % int(sc["rule_draws"]), distinct and z_nce <= DRAW_RULE_MAX_Z,
                  "two distinct: %s; max |z| nce %.2f, TAS's torch.multinomial %.2f (limit %.1f)" %
                  (distinct, z_nce, z_tas, DRAW_RULE_MAX_Z))

    # -- Weight step.
    out = {}
    for dtype, m in models.items():
        draws.set(*dtype_rows["w"])
        logits, _ = m(xw.to(dtype))
        loss = F.cross_entropy(logits, yw)
        m.zero_grad()
        loss.backward()
        out[dtype] = (logits.detach().double().numpy(), loss.item(),
                      {k: (v.grad.double().numpy() if v.grad is not None else None) for k, v in m.named_parameters()},
                      {k: v.double().numpy().copy() for k, v in m.state_dict().items()})
    print("== weight step (batch %d, tau %g, W%dA%d)" % (yw.numel(), tau, sc["bits"], sc["bits"]))
    rep.scalar("weight step CE", sc["loss_w"], out[torch.float64][1], out[torch.float32][1])
    rep.tensor("weight step logits", "logits", npy(dump, "logits_w"), out[torch.float64][0], out[torch.float32][0])
    tails, unused = 0.0, [0, 0.0]
    for name in sorted(grads):
        key = tas_key(name)
        g64, g32 = out[torch.float64][2][key], out[torch.float32][2][key]
        n = out[torch.float64][3][key].size
        nce = grads[name][:n]
        tails = max(tails, np.abs(grads[name][n:]).max() if grads[name].size > n else 0.0)
        if g64 is None:  # TAS never used this tensor (a BN slot not drawn): nce's gradient must be 0
            unused[0] += 1
            unused[1] = max(unused[1], np.abs(nce).max())
            continue
        kind = "weight grad: " + ("BN" if ".bn" in name else ("PACT clip" if name.endswith("clip") else "conv/fc"))
        rep.tensor(kind, name, nce, g64, g32)
    rep.check("BN slots not drawn", unused[1] == 0,
              "%d tensors without a TAS gradient; nce's max |grad| there %.2e" % tuple(unused))
    rep.check("BN grad beyond candidate", tails <= TAIL_TOL, "max |nce grad| in a slot's unused tail %.2e" % tails)
    a64 = models[torch.float64].width_attentions.grad.double().numpy()
    a32 = models[torch.float32].width_attentions.grad.double().numpy()
    if not full_width:
        rep.tensor("weight step alpha grad (CE)", "width_attentions", npy(dump, "alpha_grad_w"), a64, a32)
    for name in sorted(s1):
        if "running" not in name:
            continue
        key = tas_key(name)
        r64 = out[torch.float64][3][key]
        rep.tensor("BN running stats after step", name, s1[name][:r64.size], r64, out[torch.float32][3][key])

    # -- SGD update: TAS's base optimizer (search-shape.py: SGD(base_parameters(), LR, momentum,
    #    weight_decay=decay, nesterov) from configs/search-opts/CIFAR.config) against nce's nn::Sgd.
    upd = {}
    for dtype, m in models.items():
        before = {k: v.detach().clone() for k, v in m.named_parameters()}
        grads_now = {k: v.grad.clone() for k, v in m.named_parameters() if v.grad is not None}
        # As TAS builds it: weight decay on every base parameter, BN gamma/beta included.
        opt = torch.optim.SGD(m.base_parameters(), sc["lr"], momentum=0.9, weight_decay=5e-4, nesterov=True)
        opt.step()
        upd[(dtype, "tas")] = {k: (v.detach() - before[k]).double().numpy() for k, v in m.named_parameters()}
        # nce's grouping: no decay on BN gamma/beta (from the same weights and gradients).
        with torch.no_grad():
            for k, v in m.named_parameters():
                v.copy_(before[k])
                v.grad = grads_now.get(k)
        bn = [v for k, v in m.named_parameters() if ".BNs." in k]
        clips = [v for k, v in m.named_parameters() if k.endswith(".clip")]
        rest = [v for k, v in m.named_parameters()
                if ".BNs." not in k and not k.endswith(".clip") and k != "width_attentions"]
        opt = torch.optim.SGD([{"params": rest, "weight_decay": 5e-4}, {"params": bn, "weight_decay": 0.0},
                               {"params": clips, "weight_decay": sc.get("pact_clip_l2", 0.0)}],
                              sc["lr"], momentum=0.9, nesterov=True)
        opt.step()
        upd[(dtype, "nce")] = {k: (v.detach() - before[k]).double().numpy() for k, v in m.named_parameters()}
    print("== SGD update (lr %g, momentum 0.9, Nesterov, wd 5e-4) of nce's nn::Sgd vs torch.optim.SGD on TAS's "
          "gradients" % sc["lr"])
    sgd_rows = {}
    for grouping in ("tas", "nce"):
        for name in sorted(s2):
            if "running" in name:
                continue
            key = tas_key(name)
            d64, d32 = upd[(torch.float64, grouping)][key].ravel(), upd[(torch.float32, grouping)][key].ravel()
            if not np.any(d64):
                continue
            n = d64.size
            part = "BN" if ".bn" in name else ("PACT clip" if name.endswith("clip") else "conv/fc")
            kind = "SGD update%s: %s" % (" as TAS" if grouping == "tas" else ", BN undecayed", part)
            rep.tensor(kind, name, s2[name][:n].astype(np.float64) - s0[name][:n], d64, d32)

    # -- Architecture step on nce's weights after its update.
    max_flop = {}
    arch = {}
    for dtype, m in models.items():
        load_into(m, s2)
        counter = copy.deepcopy(m)
        counter.apply(tas.change_key("search_mode", "basic"))
        torch.set_default_dtype(dtype)
        max_flop[dtype], _ = tas.get_model_infos(counter, (1, 3, 32, 32))
        torch.set_default_dtype(torch.float32)
        draws.set(*dtype_rows["a"])
        m.zero_grad()
        logits, expected_flop = m(xa.to(dtype))
        flop_cur = m.get_flop("genotype", None, None)
        flop_need = max_flop[dtype] * sc["flop_ratio"]
        flop_tolerant = max_flop[dtype] * sc["tolerance"]
        flop_loss, _ = tas.get_flop_loss(expected_flop, flop_cur, flop_need, flop_tolerant)
        acls = F.cross_entropy(logits, ya)
        att = m.width_attentions
        g_ce = torch.autograd.grad(acls, att, retain_graph=True)[0]
        g_e = torch.autograd.grad(expected_flop.sum(), att, retain_graph=True)[0]
        if torch.is_tensor(flop_loss):
            g_flop = torch.autograd.grad(flop_loss * sc["flop_lambda"], att, retain_graph=True)[0]
            lv = flop_loss.item()
        else:
            g_flop, lv = torch.zeros_like(att), 0.0
        arch_loss = acls + flop_loss * sc["flop_lambda"]
        arch_loss.backward()
        arch[dtype] = dict(logits=logits.detach().double().numpy(), ce=acls.item(),
                           expected=expected_flop.item() * 1e6, flop_cur=flop_cur * 1e6,
                           flop_loss=lv, g_ce=g_ce.double().numpy(), g_e=g_e.double().numpy() * 1e6,
                           g_flop=g_flop.double().numpy(), g_total=att.grad.double().numpy())
    t64, t32 = arch[torch.float64], arch[torch.float32]
    print("== architecture step (batch %d; FLOP-exp = %g x MAX_FLOP %.6f M, FLOP-tolerant %g x, "
          "FLOP-weight %g)" % (ya.numel(), sc["flop_ratio"], max_flop[torch.float64], sc["tolerance"], sc["flop_lambda"]))
    rep.scalar("arch step CE", sc["loss_a"], t64["ce"], t32["ce"])
    rep.tensor("arch step logits", "logits", npy(dump, "logits_a"), t64["logits"], t32["logits"])
    rep.scalar("expected FLOPs E", sc["flops_tas_expected"], t64["expected"], t32["expected"])
    rep.tensor("dE/dalpha", "width_attentions", npy(dump, "flops_tas_expected_grad_alpha"), t64["g_e"], t32["g_e"])
    print("%-28s nce base accounting %.0f, nce default (width shortcuts) %.0f, TAS genotype %.0f" %
          ("argmax FLOPs F", sc["flops_tas_argmax"], sc["flops_nce_argmax"], t64["flop_cur"]))
    print("%-28s nce %.0f MACs (conv+FC), TAS MAX_FLOP %.0f (get_model_infos)" %
          ("base FLOPs", sc["flops_tas_base"], max_flop[torch.float64] * 1e6))
    direction_tas = 1 if t64["flop_loss"] > 0 else (-1 if t64["flop_loss"] < 0 else 0)
    rep.check("FLOPs loss branch", int(sc["flops_tas_direction"]) == direction_tas,
              "nce %+d, TAS %+d" % (sc["flops_tas_direction"], direction_tas))
    offset = sc["flops_tas_loss"] - t64["flop_loss"]
    print("%-28s nce %.9f (log of MACs), TAS %.9f (log of MFLOPs): nce - TAS = %.9f, "
          "log(1e6) = %.9f" % ("FLOPs loss value", sc["flops_tas_loss"], t64["flop_loss"], offset, math.log(1e6)))
    unit = math.log(1e6) * (1 if direction_tas > 0 else -1 if direction_tas < 0 else 0)
    rep.scalar("FLOPs loss (unit-adjusted)", sc["flops_tas_loss"] - unit, t64["flop_loss"], t32["flop_loss"])
    rep.tensor("FLOPs term alpha grad", "width_attentions", npy(dump, "flops_tas_term_grad_alpha"), t64["g_flop"], t32["g_flop"])
    if not full_width:
        rep.tensor("arch step alpha grad (CE)", "width_attentions", npy(dump, "alpha_grad_a_ce"), t64["g_ce"], t32["g_ce"])
    if not full_width:
        rep.tensor("arch step alpha grad (total)", "width_attentions", npy(dump, "flops_tas_arch_grad_alpha"), t64["g_total"], t32["g_total"])

    rep.finish()
    if args.all:
        print("\n%-30s %-34s %10s %10s %10s %10s" % ("quantity", "tensor", "rel L2", "max rel", "TAS f32", "limit"))
        for q, n, e, mr, e32, lim, bad in rep.rows:
            print("%-30s %-34s %10.2e %10.2e %10.2e %10.2e%s" % (q, n, e, mr, e32, lim, "  <--" if bad else ""))
    print("\n%-30s %7s %10s %-28s %10s %9s %5s" % ("quantity", "tensors", "worst rel", "(tensor)", "TAS f32", "limit", "fail"))
    overall = 0.0
    for q, (e, n, e32, count, bad, lim) in rep.worst.items():
        if not q.startswith("SGD update as TAS"):
            overall = max(overall, e)
        print("%-30s %7d %10.2e %-28s %10.2e %9.2e %5d" % (q, count, e, n[:28], e32, lim, bad))
    print("overall max relative difference (nce vs TAS float64) %.2e, SGD update as TAS's optimizer takes it "
          "left out" % overall)
    if unmapped:
        used = [k for k in unmapped if any(v is not None for n, v in out[torch.float64][2].items()
                                           if n.startswith(k.replace("*", "")))]
        print("TAS tensors without an nce counterpart: %s; of these with a gradient in the weight step "
              "(used in search mode): %s" % (", ".join(unmapped), ", ".join(used) if used else "none"))
    print("tolerances: FP32_FACTOR %g, REL_FLOOR %.0e, REL_MAX %.0e, LOSS_REL_TOL %.0e, DRAW_TOL %.0e, "
          "DRAW_RULE_MAX_Z %g" % (FP32_FACTOR, REL_FLOOR, REL_MAX, LOSS_REL_TOL, DRAW_TOL, DRAW_RULE_MAX_Z))
    print("RESULT (%s) step: draws, losses, FLOPs terms, logits, gradients, BN statistics: %s (%d check(s) "
          "failed)" % (variant, "PASS" if rep.failures == 0 else "FAIL", rep.failures))
    print("RESULT (%s) SGD update as TAS's optimizer takes it: %s (%d tensor(s) differ)" %
          (variant, "PASS" if rep.optimizer_failures == 0 else "FAIL", rep.optimizer_failures))
    return 1 if rep.failures or rep.optimizer_failures else 0


if __name__ == "__main__":
    sys.exit(main())
