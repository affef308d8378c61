#!/usr/bin/python3
"""Times TAS's own search iteration and plain training step on the CPU (bench/compare_search_speed.sh).

Runs AutoDL-Projects' own loops from the checkout given with --autodl (nothing of it is part of
nce), on random CIFAR-shaped batches held in memory, FP32, no quantization:
  search: xautodl.procedures.search_main.search_train on SearchWidthCifarResNet (ResNet-20, width
          search; issue #65's block-output ReLU fixed at run time): per iteration a weight step
          (Gumbel draw, forward, CE, backward, SGD) and an architecture step (fresh draw, forward,
          get_flop('genotype'), get_flop_loss, CE + 2 x FLOPs loss, backward, Adam on alpha), with
          search-shape.py's optimizers (SGD lr 0.1 momentum 0.9 Nesterov wd 5e-4; Adam lr 1e-3
          betas (0.5, 0.999) wd 1e-3), FLOP ratio 0.5, tolerance 0.05, tau 5;
  plain:  xautodl.procedures.basic_main.basic_train on CifarResNet (ResNet-20) with the same SGD.
TAS's loops call .cuda() on the targets; that is the identity here (CPU run). Each iteration is
timed from one batch handed out by the loader to the next; the first --warmup are dropped.
Prints one JSON line per loop: {"what": "search"|"plain", "ms": [...], "median_ms": ...}.

Usage: bench/tas_search_speed.py --autodl DIR [--batch 128] [--threads 2] [--steps 5] [--warmup 2]
"""
import argparse
import copy
import json
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tas_step_check  # noqa: E402  (import_tas, fix_issue_65)


class TimedLoader:
    """A fixed list of batches; marks the time each one is handed out and when the loop ends."""

    def __init__(self, batches):
        self.batches, self.marks = batches, []

    def __len__(self):
        return len(self.batches)

    def __iter__(self):
        for b in self.batches:
            self.marks.append(time.perf_counter())
            yield b
        self.marks.append(time.perf_counter())

    def step_ms(self, warmup):
        d = [1000 * (b - a) for a, b in zip(self.marks, self.marks[1:])]
        return d[warmup:]


class Quiet:
    def log(self, *args, **kwargs):
        pass


class NoSchedule:
    def update(self, *args, **kwargs):
        pass

    def get_min_info(self):
        return ""


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--autodl", required=True)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--what", default="search,plain")
    args = p.parse_args()
    torch.set_flush_denormal(True)
    torch.set_num_threads(args.threads)
    tas = tas_step_check.import_tas(args.autodl)
    tas_step_check.fix_issue_65(tas)
    from xautodl.procedures.search_main import search_train
    from xautodl.procedures.basic_main import basic_train
    from xautodl.models.CifarResNet import CifarResNet
    torch.Tensor.cuda = lambda self, *a, **k: self  # TAS's loops move targets to the GPU
    torch.manual_seed(1)
    n = args.steps + args.warmup
    x = torch.randn(args.batch, 3, 32, 32)
    y = torch.randint(0, 10, (args.batch,))
    criterion = torch.nn.CrossEntropyLoss()
    common = {"batch": args.batch, "threads": torch.get_num_threads(), "torch": torch.__version__,
              "engine": "tas", "warmup": args.warmup}

    for what in args.what.split(","):
        if what == "search":
            model = tas.width.SearchWidthCifarResNet("ResNetBasicblock", 20, 10)
            model.eval()
            with torch.no_grad():
                model(torch.zeros(1, 3, 32, 32))  # in/out shapes for get_flop (search-shape.py does this)
            max_flop, _ = tas.get_model_infos(copy.deepcopy(model), (1, 3, 32, 32))
            model.tau = 5.0
            base_opt = torch.optim.SGD(model.base_parameters(), 0.1, momentum=0.9, weight_decay=5e-4, nesterov=True)
            arch_opt = torch.optim.Adam(model.arch_parameters(), lr=1e-3, betas=(0.5, 0.999), weight_decay=1e-3)
            loader = TimedLoader([(x, y, x.clone(), y.clone())] * n)
            extra = {"epoch-str": "speed", "FLOP-exp": max_flop * 0.5, "FLOP-weight": 2.0,
                     "FLOP-tolerant": max_flop * 0.05}
            search_train(loader, torch.nn.DataParallel(model), criterion, NoSchedule(), base_opt, arch_opt,
                         None, extra, 10 ** 9, Quiet())
        elif what == "plain":
            model = CifarResNet("ResNetBasicblock", 20, 10, False)
            opt = torch.optim.SGD(model.parameters(), 0.1, momentum=0.9, weight_decay=5e-4, nesterov=True)
            loader = TimedLoader([(x, y)] * n)
            basic_train(loader, torch.nn.DataParallel(model), criterion, NoSchedule(), opt, None, "speed",
                        10 ** 9, Quiet())
        else:
            sys.exit("tas_search_speed: --what takes search,plain; got %s" % what)
        ms = loader.step_ms(args.warmup)
        print(json.dumps(dict(common, what=what, ms=[round(v, 3) for v in ms],
                              median_ms=statistics.median(ms))), flush=True)


if __name__ == "__main__":
    main()
