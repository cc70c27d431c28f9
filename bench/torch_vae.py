#!/usr/bin/env python3
"""PyTorch twin of examples/mnist_vae: the same model, flags and metrics.

The model is the pytorch/examples VAE: 784-400-(20, 20) encoder with ReLU,
20-400-784 decoder with ReLU, Bernoulli likelihood on logits, analytic KL,
Adam, torch.nn.Linear's default initialisation (mnist_vae's --init pytorch).
Like mnist_vae, the loss is nats per sample (summed over pixels, averaged over
the batch). It reads the MNIST-format IDX .gz files itself and writes
<out>/metrics.jsonl with train_seconds per epoch (the training loop only, as
mnist_vae's Trainer does) and test_loss (sampled z, as mnist_vae).

Run it as bench/compare.sh does, with OPENBLAS_NUM_THREADS=1: otherwise
OpenBLAS's threads and PyTorch's oversubscribe the cores (issue 7: 12.8 s
per epoch instead of 3.6 s on 2 cores).
"""

import argparse
import gzip
import json
import os
import struct
import sys
import time

try:
    import torch
    import torch.nn.functional as F
    from torch import nn
except ImportError:  # compare.sh checks first; this is for direct use
    sys.exit("torch_vae.py: PyTorch is not installed (Debian: apt-get install python3-torch)")


def read_idx(path):
    """An IDX file (plain or .gz) as a uint8 tensor; checks the header."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 4:
        raise ValueError(f"{path}: too short for an IDX header")
    zero, dtype, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file (magic {data[:4].hex()})")
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    count = 1
    for d in dims:
        count *= d
    offset = 4 + 4 * ndim
    if len(data) - offset != count:
        raise ValueError(f"{path}: header says {dims}, file holds {len(data) - offset} bytes")
    return torch.frombuffer(bytearray(data[offset:]), dtype=torch.uint8).reshape(dims)


def find(directory, split):
    for name in (f"{split}-images-idx3-ubyte.gz", f"{split}-images-idx3-ubyte"):
        path = os.path.join(directory, name)
        if os.path.exists(path):
            return path
    raise FileNotFoundError(f"{directory}: no {split}-images-idx3-ubyte[.gz]")


class VAE(nn.Module):
    def __init__(self, inputs, hidden, latent):
        super().__init__()
        self.fc1 = nn.Linear(inputs, hidden)
        self.fc21 = nn.Linear(hidden, latent)
        self.fc22 = nn.Linear(hidden, latent)
        self.fc3 = nn.Linear(latent, hidden)
        self.fc4 = nn.Linear(hidden, inputs)

    def forward(self, x):
        h = F.relu(self.fc1(x))
        mu, logvar = self.fc21(h), self.fc22(h)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return self.fc4(F.relu(self.fc3(z))), mu, logvar


def loss_parts(logits, x, mu, logvar):
    """Per-batch sums of the Bernoulli NLL and of the KL, in nats."""
    nll = F.binary_cross_entropy_with_logits(logits, x, reduction="sum")
    kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return nll, kl


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--hidden", type=int, default=400)
    p.add_argument("--latent", type=int, default=20)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: all cores)")
    p.add_argument("--limit", type=int, default=0, help="first N training images (0: all)")
    p.add_argument("--out", default="runs/torch_vae")
    p.add_argument("--quiet", action="store_true")
    a = p.parse_args()
    for flag in ("epochs", "batch", "hidden", "latent"):
        if getattr(a, flag) <= 0:
            p.error(f"--{flag}: expected a positive number")

    threads = a.threads if a.threads > 0 else (os.cpu_count() or 1)
    torch.set_num_threads(threads)
    torch.manual_seed(a.seed)
    train = read_idx(find(a.data, "train"))
    test = read_idx(find(a.data, "t10k"))
    if a.limit > 0:
        train = train[: a.limit]
    features = train.shape[1] * train.shape[2]
    # Whole sets as float32 tensors: the fastest way to feed PyTorch here.
    train_x = train.reshape(len(train), features).float() / 255.0
    test_x = test.reshape(len(test), features).float() / 255.0

    model = VAE(features, a.hidden, a.latent)
    opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    os.makedirs(a.out, exist_ok=True)
    metrics = open(os.path.join(a.out, "metrics.jsonl"), "w")
    if not a.quiet:
        print(f"torch_vae: {len(train_x)} training and {len(test_x)} test images from {a.data}; "
              f"{features}-{a.hidden}-{a.latent}-{a.hidden}-{features}; {threads} thread(s); "
              f"torch {torch.__version__}", file=sys.stderr)

    for epoch in range(1, a.epochs + 1):
        model.train()
        start = time.perf_counter()
        order = torch.randperm(len(train_x))
        loss_sum = kl_sum = 0.0
        for begin in range(0, len(train_x), a.batch):
            x = train_x[order[begin:begin + a.batch]]
            logits, mu, logvar = model(x)
            nll, kl = loss_parts(logits, x, mu, logvar)
            loss = (nll + kl) / len(x)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            loss_sum += float(nll + kl)
            kl_sum += float(kl)
        seconds = time.perf_counter() - start

        model.eval()
        gen = torch.Generator().manual_seed(a.seed + 1000)
        test_sum = test_kl = 0.0
        with torch.no_grad():
            for begin in range(0, len(test_x), 500):
                x = test_x[begin:begin + 500]
                h = F.relu(model.fc1(x))
                mu, logvar = model.fc21(h), model.fc22(h)
                eps = torch.randn(mu.shape, generator=gen)
                z = mu + eps * torch.exp(0.5 * logvar)
                nll, kl = loss_parts(model.fc4(F.relu(model.fc3(z))), x, mu, logvar)
                test_sum += float(nll + kl)
                test_kl += float(kl)
        record = {"epoch": epoch, "train_seconds": seconds,
                  "train_loss": loss_sum / len(train_x), "train_kl": kl_sum / len(train_x),
                  "test_loss": test_sum / len(test_x), "test_kl": test_kl / len(test_x)}
        metrics.write(json.dumps(record) + "\n")
        metrics.flush()
        if not a.quiet:
            print(f"epoch {epoch}: {seconds:.3f} s, train_loss {record['train_loss']:.2f}, "
                  f"test_loss {record['test_loss']:.2f}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
