"""A training process for the tracker tests: a small CNN trained with a Tracker until killed.

Run: python tracker_worker.py RUN_DIR [--every 1] [--chunk 4] [--sleep 0] [--steps N]
[--die-at-start] (killed by SIGKILL once the tracker has made the run, before any step)
"""

from __future__ import annotations

import argparse
import os
import signal
import time

import torch
from torch import nn


class SmallCNN(nn.Module):
    """conv-bn-relu, conv-relu, dropout, linear-relu, linear: 3 auto sites (relu1, relu2,
    relu3), each fed by a layer with weights (conv1 through bn1, conv2, fc1)."""

    def __init__(self, classes: int = 3):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 4, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(4)
        self.relu1 = nn.ReLU()
        self.conv2 = nn.Conv2d(4, 6, 3, stride=2)
        self.relu2 = nn.ReLU()
        self.drop = nn.Dropout(0.3)
        self.fc1 = nn.Linear(6 * 5 * 5, 10)
        self.relu3 = nn.ReLU()
        self.fc2 = nn.Linear(10, classes)

    def forward(self, x):
        x = self.relu1(self.bn1(self.conv1(x)))
        x = self.relu2(self.conv2(x))
        x = self.drop(x.flatten(1))
        return self.fc2(self.relu3(self.fc1(x)))


def train_step(model, opt, x, y) -> float:
    opt.zero_grad(set_to_none=True)
    loss = nn.functional.cross_entropy(model(x), y)
    loss.backward()
    opt.step()
    return loss.item()


def main() -> None:
    from pathlens import Tracker

    parser = argparse.ArgumentParser()
    parser.add_argument("run_dir")
    parser.add_argument("--every", type=int, default=1)
    parser.add_argument("--chunk", type=int, default=4)
    parser.add_argument("--sleep", type=float, default=0.0)
    parser.add_argument("--steps", type=int, default=1_000_000)
    parser.add_argument("--die-at-start", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = SmallCNN()
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    probe = torch.randn(16, 1, 12, 12)
    with Tracker(model, args.run_dir, every=args.every, probe=probe, chunk=args.chunk,
                 flush_seconds=0.05) as tracker:  # fmt: skip
        if args.die_at_start:
            os.kill(os.getpid(), signal.SIGKILL)
        for _ in range(args.steps):
            x = torch.randn(32, 1, 12, 12)
            y = torch.randint(0, 3, (32,))
            loss = train_step(model, opt, x, y)
            tracker.step(loss=loss, lr=0.05)
            if args.sleep:
                time.sleep(args.sleep)


if __name__ == "__main__":
    main()
