#!/usr/bin/env python3
"""PyTorch twin of examples/mnist_vae: the same model, flags and metrics.

--arch mlp (the default) is the pytorch/examples VAE: 784-400-(20, 20)
encoder with ReLU, 20-400-784 decoder with ReLU. --arch conv is mnist_vae's
--arch conv (issue 20): Conv2d 1->32 k4 s2 p1, ReLU, Conv2d 32->64 k4 s2 p1,
ReLU, Flatten, Linear 3136->256, ReLU, Linear 256->2*latent ([mu; logvar],
as scvae's GaussianHead splits its one dense layer); decoder Linear
latent->256, ReLU, Linear 256->3136, ReLU, 64x7x7, ConvTranspose2d 64->32 k4
s2 p1, ReLU, ConvTranspose2d 32->1 k4 s2 p1. Both: Bernoulli likelihood on
logits, analytic KL, Adam, PyTorch's default initialisation (mnist_vae's
--init pytorch).
Like mnist_vae, the loss is nats per sample (summed over pixels, averaged over
the batch). It reads the MNIST-format IDX .gz files itself and writes
<out>/metrics.jsonl with train_seconds per epoch (the training loop only, as
mnist_vae's Trainer does) and test_loss (sampled z, as mnist_vae).

Run it as bench/compare.sh does, with OPENBLAS_NUM_THREADS=1: otherwise
OpenBLAS's threads and PyTorch's oversubscribe the cores (issue 7: 12.8 s
per epoch instead of 3.6 s on 2 cores). It prints the BLAS library and
OpenBLAS kernel it loaded (one "torch_vae: blas ..." line, also under
--quiet), so that a run forced onto an older kernel by OPENBLAS_CORETYPE
shows it (issue 24).
"""

import argparse
import ctypes
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


class MlpVAE(nn.Module):
    def __init__(self, inputs, hidden, latent):
        super().__init__()
        self.fc1 = nn.Linear(inputs, hidden)
        self.fc21 = nn.Linear(hidden, latent)
        self.fc22 = nn.Linear(hidden, latent)
        self.fc3 = nn.Linear(latent, hidden)
        self.fc4 = nn.Linear(hidden, inputs)
        self.description = f"{inputs}-{hidden}-{latent}-{hidden}-{inputs}"

    def encode(self, x):
        h = F.relu(self.fc1(x))
        return self.fc21(h), self.fc22(h)

    def decode(self, z):
        return self.fc4(F.relu(self.fc3(z)))

    def forward(self, x):
        mu, logvar = self.encode(x)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return self.decode(z), mu, logvar


class ConvVAE(nn.Module):
    """mnist_vae's --arch conv; images arrive as (batch, 1, 28, 28)."""

    def __init__(self, latent):
        super().__init__()
        self.latent = latent
        self.encoder = nn.Sequential(
            nn.Conv2d(1, 32, 4, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(32, 64, 4, stride=2, padding=1), nn.ReLU(),
            nn.Flatten(), nn.Linear(3136, 256), nn.ReLU(),
            nn.Linear(256, 2 * latent))
        self.decoder = nn.Sequential(
            nn.Linear(latent, 256), nn.ReLU(), nn.Linear(256, 3136), nn.ReLU(),
            nn.Unflatten(1, (64, 7, 7)),
            nn.ConvTranspose2d(64, 32, 4, stride=2, padding=1), nn.ReLU(),
            nn.ConvTranspose2d(32, 1, 4, stride=2, padding=1))
        self.description = (f"conv2d(32,4,2,1) relu conv2d(64,4,2,1) relu dense(256) relu "
                            f"gaussian({latent}) | dense(256) relu dense(3136) relu 64x7x7 "
                            f"conv_transpose2d(32,4,2,1) relu conv_transpose2d(1,4,2,1)")

    def encode(self, x):
        out = self.encoder(x)
        return out[:, :self.latent], out[:, self.latent:]

    def decode(self, z):
        return self.decoder(z)

    def forward(self, x):
        mu, logvar = self.encode(x)
        z = mu + torch.randn_like(mu) * torch.exp(0.5 * logvar)
        return self.decode(z), mu, logvar


def loaded_blas():
    """The OpenBLAS library this process loaded and its path, or None and
    the paths of the other BLAS libraries it loaded."""
    with open("/proc/self/maps") as maps:
        paths = sorted({line.split()[-1] for line in maps
                        if "blas" in line.rsplit("/", 1)[-1].lower()})
    for path in paths:
        try:
            lib = ctypes.CDLL(path)
            lib.openblas_get_corename.restype = ctypes.c_char_p
            lib.openblas_get_config.restype = ctypes.c_char_p
        except (OSError, AttributeError):
            continue  # not OpenBLAS (reference BLAS, BLIS, ...)
        return lib, path
    return None, ", ".join(paths) or "no BLAS library loaded"


def blas_description():
    """The BLAS library this process loaded and, for OpenBLAS, its kernel."""
    lib, where = loaded_blas()
    if lib is None:
        return "not OpenBLAS: " + where
    return (f"{lib.openblas_get_config().decode()}, kernel "
            f"{lib.openblas_get_corename().decode()} ({where})")


def blas_kernel():
    """The kernel OpenBLAS picked (openblas_get_corename), or "none"."""
    lib, _ = loaded_blas()
    return "none" if lib is None else lib.openblas_get_corename().decode()


def cpu_capability():
    for line in torch.__config__.show().splitlines():
        if "CPU capability usage" in line:
            return line.split(":", 1)[1].strip()
    return "unknown"


def loss_parts(logits, x, mu, logvar):
    """Per-batch sums of the Bernoulli NLL and of the KL, in nats."""
    nll = F.binary_cross_entropy_with_logits(logits, x, reduction="sum")
    kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
    return nll, kl


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--arch", choices=("mlp", "conv"), default="mlp")
    p.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--hidden", type=int, default=None, help="the MLP's width (400)")
    p.add_argument("--latent", type=int, default=20)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: all cores)")
    p.add_argument("--limit", type=int, default=0, help="first N training images (0: all)")
    p.add_argument("--out", default="runs/torch_vae")
    p.add_argument("--precision", choices=("fp32", "bf16"), default="fp32",
                   help="bf16: the model under torch.autocast('cpu', bfloat16), the loss in fp32 "
                        "(mnist_vae's --precision bf16)")
    p.add_argument("--quiet", action="store_true")
    p.add_argument("--blas-kernel", action="store_true",
                   help="print the kernel OpenBLAS picked for this CPU (none: not OpenBLAS) "
                        "and exit; compare.sh asks before it runs the twins")
    a = p.parse_args()
    if a.blas_kernel:
        print(blas_kernel())
        return
    if a.arch == "conv" and a.hidden is not None:
        p.error("--hidden: the MLP's width; --arch conv has fixed widths")
    if a.hidden is None:
        a.hidden = 400
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
    if a.arch == "conv":
        if tuple(train.shape[1:]) != (28, 28):
            sys.exit(f"torch_vae.py: --arch conv: expected 28x28 images, {a.data} holds "
                     f"{train.shape[1]}x{train.shape[2]}")
        sample_shape = (1, 28, 28)
        model = ConvVAE(a.latent)
    else:
        sample_shape = (features,)
        model = MlpVAE(features, a.hidden, a.latent)
    # Whole sets as float32 tensors: the fastest way to feed PyTorch here.
    train_x = train.reshape(len(train), *sample_shape).float() / 255.0
    test_x = test.reshape(len(test), *sample_shape).float() / 255.0

    opt = torch.optim.Adam(model.parameters(), lr=a.lr)
    os.makedirs(a.out, exist_ok=True)
    metrics = open(os.path.join(a.out, "metrics.jsonl"), "w")
    if not a.quiet:
        print(f"torch_vae: {len(train_x)} training and {len(test_x)} test images from {a.data}; "
              f"{model.description}; {threads} thread(s), {a.precision}; torch {torch.__version__}",
              file=sys.stderr)
    print(f"torch_vae: blas {blas_description()}; torch CPU capability {cpu_capability()}, "
          f"mkldnn {'on' if torch.backends.mkldnn.is_available() else 'off'}", file=sys.stderr)

    def products():
        return torch.autocast("cpu", dtype=torch.bfloat16, enabled=a.precision == "bf16")

    for epoch in range(1, a.epochs + 1):
        model.train()
        start = time.perf_counter()
        order = torch.randperm(len(train_x))
        loss_sum = kl_sum = 0.0
        for begin in range(0, len(train_x), a.batch):
            x = train_x[order[begin:begin + a.batch]]
            with products():
                logits, mu, logvar = model(x)
            nll, kl = loss_parts(logits.float(), x, mu.float(), logvar.float())
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
                with products():
                    mu, logvar = model.encode(x)
                mu, logvar = mu.float(), logvar.float()
                eps = torch.randn(mu.shape, generator=gen)
                z = mu + eps * torch.exp(0.5 * logvar)
                with products():
                    logits = model.decode(z)
                nll, kl = loss_parts(logits.float(), x, mu, logvar)
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
