#!/usr/bin/env python3
"""scvae_table against scikit-learn baselines on scikit-learn's bundled tables.

For each table and split seed: a seeded 80/20 split (stratified by the class
where there is one) written as train.csv / test.csv; scikit-learn's
LogisticRegression (classes) and Ridge (values) on standardised features,
fitted with all training labels and with half of them; and `scvae_table
train` on the same files, once with every label and once with half of each
target's cells blanked (the rows stay, as unlabelled samples). Prints one
Markdown table: per task, accuracy (%) or RMSE in the target's units, as the
mean over the seeds. Needs Debian's python3-sklearn; nothing is downloaded.

  bench/tables/baselines.py --scvae-table build/examples/scvae_table [--seeds 5] [--first-seed 1]
                            [--tables wine,iris] [--flags "--latent 16"]
"""
import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
from sklearn import datasets
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import StandardScaler


def clean(name):
    return name.replace("/", "_").replace(" ", "_")


def wine():
    d = datasets.load_wine()
    names = [clean(n) for n in d.feature_names]
    table = {n: d.data[:, i] for i, n in enumerate(names)}
    table["cultivar"] = np.array([d.target_names[t] for t in d.target], dtype=object)
    return "wine", table, [("cultivar", "categorical"), ("alcohol", "gaussian")]


def breast_cancer():
    d = datasets.load_breast_cancer()
    names = [clean(n) for n in d.feature_names]
    table = {n: d.data[:, i] for i, n in enumerate(names)}
    table["diagnosis"] = np.array([d.target_names[t] for t in d.target], dtype=object)
    return "breast_cancer", table, [("diagnosis", "categorical")]


def diabetes():
    d = datasets.load_diabetes(scaled=False)
    names = [clean(n) for n in d.feature_names]
    table = {n: d.data[:, i] for i, n in enumerate(names)}
    table["progression"] = d.target
    return "diabetes", table, [("progression", "gaussian")]


def iris():
    d = datasets.load_iris()
    names = [clean(n).replace("_(cm)", "") for n in d.feature_names]
    table = {n: d.data[:, i] for i, n in enumerate(names)}
    table["species"] = np.array([d.target_names[t] for t in d.target], dtype=object)
    return "iris", table, [("species", "categorical")]


def write_csv(path, table, rows, blank=None):
    """Writes `rows` of `table`; blank[name] is a boolean array of cells to leave empty."""
    names = list(table)
    with open(path, "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(names)
        for k, r in enumerate(rows):
            line = []
            for n in names:
                if blank is not None and n in blank and blank[n][k]:
                    line.append("")
                else:
                    v = table[n][r]
                    line.append(v if isinstance(v, str) else repr(float(v)))
            out.writerow(line)


def sklearn_scores(table, targets, train, test, labelled):
    """Per task: accuracy (%) or RMSE of a baseline fitted on the rows `labelled[name]` of train."""
    target_names = {n for n, _ in targets}
    features = [n for n in table if n not in target_names]
    x = np.column_stack([table[n].astype(float) for n in features])
    scores = {}
    for name, kind in targets:
        rows = train[labelled[name]]
        scaler = StandardScaler().fit(x[rows])
        xtr, xte = scaler.transform(x[rows]), scaler.transform(x[test])
        y = table[name]
        if kind == "categorical":
            model = LogisticRegression(max_iter=5000).fit(xtr, y[rows])
            scores[name] = 100.0 * np.mean(model.predict(xte) == y[test])
        else:
            model = Ridge(alpha=1.0).fit(xtr, y[rows].astype(float))
            scores[name] = float(np.sqrt(np.mean((model.predict(xte) - y[test].astype(float)) ** 2)))
    return scores


def scvae_scores(program, workdir, targets, flags, seed):
    out = os.path.join(workdir, "out")
    command = [program, "train", "--data", os.path.join(workdir, "train.csv"),
               "--test", os.path.join(workdir, "test.csv"), "--seed", str(seed),
               "--threads", "1", "--quiet", "--out", out] + flags
    for name, kind in targets:
        command += ["--target", f"{name}:{kind}"]
    subprocess.run(command, check=True)
    with open(os.path.join(out, "metrics.jsonl")) as f:
        last = json.loads(f.read().splitlines()[-1])
    scores = {}
    for name, kind in targets:
        if kind == "categorical":
            scores[name] = 100.0 * last[f"validation_{name}_accuracy"]
        else:
            scores[name] = last[f"validation_{name}_rmse_original_units"]
    return scores


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scvae-table", required=True, help="the scvae_table program")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--first-seed", type=int, default=1,
                        help="split seeds first-seed .. first-seed + seeds - 1")
    parser.add_argument("--labelled", type=float, default=0.5,
                        help="share of training labels kept in the masked runs")
    parser.add_argument("--flags", default="", help="extra scvae_table train flags")
    parser.add_argument("--tables", default="iris,wine,breast_cancer,diabetes",
                        help="comma-separated subset of iris, wine, breast_cancer, diabetes")
    args = parser.parse_args()
    makers = {"iris": iris, "wine": wine, "breast_cancer": breast_cancer, "diabetes": diabetes}
    chosen = args.tables.split(",")
    for name in chosen:
        if name not in makers:
            parser.error(f"--tables: unknown table '{name}' (expected {', '.join(makers)})")
    flags = args.flags.split()

    print(f"| table | task | metric | sklearn, all labels | scvae, all labels | "
          f"sklearn, {args.labelled:.0%} labels | scvae, {args.labelled:.0%} labels |")
    print("|---|---|---|---|---|---|---|")
    for make in (makers[name] for name in chosen):
        title, table, targets = make()
        size = len(next(iter(table.values())))
        results = {key: {n: [] for n, _ in targets} for key in ("sk", "sc", "sk_half", "sc_half")}
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            classes = [table[n] for n, k in targets if k == "categorical"]
            train, test = train_test_split(np.arange(size), test_size=0.2, random_state=seed,
                                           stratify=classes[0] if classes else None)
            rng = np.random.default_rng(seed)
            everything = {n: np.ones(len(train), dtype=bool) for n, _ in targets}
            half = {n: rng.random(len(train)) < args.labelled for n, _ in targets}
            with tempfile.TemporaryDirectory() as workdir:
                write_csv(os.path.join(workdir, "test.csv"), table, test)
                write_csv(os.path.join(workdir, "train.csv"), table, train)
                for n, v in sklearn_scores(table, targets, train, test, everything).items():
                    results["sk"][n].append(v)
                for n, v in scvae_scores(args.scvae_table, workdir, targets, flags, seed).items():
                    results["sc"][n].append(v)
                write_csv(os.path.join(workdir, "train.csv"), table, train,
                          {n: ~half[n] for n, _ in targets})
                for n, v in sklearn_scores(table, targets, train, test, half).items():
                    results["sk_half"][n].append(v)
                for n, v in scvae_scores(args.scvae_table, workdir, targets, flags, seed).items():
                    results["sc_half"][n].append(v)
        for name, kind in targets:
            metric = "accuracy %" if kind == "categorical" else "RMSE"
            cells = [f"{np.mean(results[k][name]):.2f}" for k in ("sk", "sc", "sk_half", "sc_half")]
            print(f"| {title} ({size} rows) | {name} | {metric} | " + " | ".join(cells) + " |")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
