#!/usr/bin/env python3
"""Per-split figures of scvae_table settings, for task-balancing comparisons.

The splits, label masks and scvae_table command of baselines.py (seeded 80/20
splits, half of each target's training cells blanked in the masked runs, the
scvae_table seed equal to the split seed, --threads 1); for each table,
setting and split, the last epoch's validation metric of every target, and
each run's metrics.jsonl kept under --keep (epochs, learned weights);
--seed-offset trains from other initial weights on the same splits. Prints
per target a Markdown table of the per-split figures and their mean, and
writes everything to --json.

  bench/tables/balance_splits.py --scvae-table T --setting hand2="--weight features=2" \
      --setting gn0="--balance gradnorm --gradnorm-alpha 0" --tables breast_cancer --json out.json
      [--seeds 10 --first-seed 11]
"""
import argparse
import json
import os
import shutil
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from sklearn.model_selection import train_test_split

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import baselines  # noqa: E402

TABLES = {"iris": baselines.iris, "wine": baselines.wine,
          "breast_cancer": baselines.breast_cancer, "diabetes": baselines.diabetes}


def split(table, targets, seed, labelled):
    size = len(next(iter(table.values())))
    classes = [table[n] for n, k in targets if k == "categorical"]
    train, test = train_test_split(np.arange(size), test_size=0.2, random_state=seed,
                                   stratify=classes[0] if classes else None)
    rng = np.random.default_rng(seed)
    half = {n: rng.random(len(train)) < labelled for n, _ in targets}
    return train, test, half


def one_run(program, title, setting, flags, seed, masked, labelled, keep, seed_offset):
    _, table, targets = TABLES[title]()
    train, test, half = split(table, targets, seed, labelled)
    with tempfile.TemporaryDirectory() as workdir:
        baselines.write_csv(os.path.join(workdir, "test.csv"), table, test)
        blank = {n: ~half[n] for n, _ in targets} if masked else None
        baselines.write_csv(os.path.join(workdir, "train.csv"), table, train, blank)
        scores = baselines.scvae_scores(program, workdir, targets, flags, seed + seed_offset)
        if keep:
            where = os.path.join(keep, title, setting, f"{'half' if masked else 'all'}_{seed}")
            os.makedirs(where, exist_ok=True)
            shutil.copy(os.path.join(workdir, "out", "metrics.jsonl"), where)
    return title, setting, masked, seed, scores, len(test)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scvae-table", required=True)
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--first-seed", type=int, default=1,
                        help="split seeds first-seed .. first-seed + seeds - 1")
    parser.add_argument("--labelled", type=float, default=0.5)
    parser.add_argument("--tables", default="iris,wine,breast_cancer,diabetes")
    parser.add_argument("--setting", action="append", required=True,
                        help='NAME="scvae_table flags" (repeatable)')
    parser.add_argument("--seed-offset", type=int, default=0,
                        help="scvae_table's --seed is the split seed plus this (0: baselines.py's)")
    parser.add_argument("--jobs", type=int, default=1, help="scvae_table runs at once")
    parser.add_argument("--keep", default="", help="directory for each run's metrics.jsonl")
    parser.add_argument("--json", required=True)
    args = parser.parse_args()
    settings = dict(s.split("=", 1) for s in args.setting)
    work = [(t, s, m, seed) for t in args.tables.split(",") for s in settings
            for m in (False, True)
            for seed in range(args.first_seed, args.first_seed + args.seeds)]
    with ThreadPoolExecutor(args.jobs) as pool:
        runs = list(pool.map(lambda w: one_run(args.scvae_table, w[0], w[1], settings[w[1]].split(),
                                               w[3], w[2], args.labelled, args.keep,
                                               args.seed_offset), work))
    records = [{"table": t, "setting": s, "labels": "half" if m else "all", "seed": seed,
                "scores": scores, "test_rows": rows} for t, s, m, seed, scores, rows in runs]
    with open(args.json, "w") as f:
        json.dump({"settings": settings, "runs": records}, f, indent=1)
    for title in args.tables.split(","):
        for name, kind in TABLES[title]()[2]:
            for labels in ("all", "half"):
                print(f"\n{title} {name} ({labels} labels)\n")
                print("| setting | " + " | ".join(
                    str(s) for s in range(args.first_seed, args.first_seed + args.seeds)) +
                      " | mean | min | max |")
                print("|---|" + "---|" * (args.seeds + 3))
                for setting in settings:
                    v = [r["scores"][name] for r in records if r["table"] == title and
                         r["setting"] == setting and r["labels"] == labels]
                    print(f"| {setting} | " + " | ".join(f"{x:.2f}" for x in v) +
                          f" | {np.mean(v):.2f} | {min(v):.2f} | {max(v):.2f} |")


if __name__ == "__main__":
    main()
