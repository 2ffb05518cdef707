"""Benchmark of ``callcenter train --import`` with 100,000 historical work orders (target: ≤ 5 min,
≤ 2 GB peak memory).

The orders are synthetic (no real work orders ship with the project): generated request texts of the
catalogue's matters, two or three joined to about 100-200 characters as a long work-order text, labelled
with the matter name (70 %), a ``大类/小类/事项`` path (25 %) or a name of the center's own that maps to
nothing (5 %); plus one bad row in 2,000 (empty text, 30,000-character text, no category) to exercise the
line-numbered messages. The import runs as the real CLI in a subprocess; peak memory is that child's
maximum RSS.

    .venv/bin/python bench/bench_import.py [--rows 100000] [--keep DIR]
"""

from __future__ import annotations

import argparse
import csv
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("CALLCENTER_MODE", "test")


def write_orders(path: Path, n_rows: int, seed: int = 2026) -> dict[str, int]:
    from callcenter.catalogue import load_catalogue
    from callcenter.plugins.classifier.corpus import generate

    catalogue = load_catalogue()
    per = max(1, n_rows // len(catalogue.matters) + 1)
    samples = [
        s for s in generate(catalogue, {"train": 0, "calib": 0, "test": per}, seed=seed) if s.split == "test"
    ]
    by_matter: dict[str, list[str]] = {}
    for s in samples:
        by_matter.setdefault(s.matter_code, []).append(s.text)
    rng = random.Random(seed)
    codes = sorted(by_matter)
    counts = {"rows": 0, "bad": 0}
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["工单编号", "诉求内容", "工单分类", "承办单位", "发生地点"])
        for i in range(n_rows):
            if i % 2000 == 1999:
                kind = i // 2000 % 3
                bad = (
                    ["", "路灯异常"]
                    if kind == 0
                    else (["长" * 30_000, "路灯异常"] if kind == 1 else ["井盖丢了", ""])
                )
                w.writerow([f"WO{i:07d}", bad[0], bad[1], "", ""])
                counts["bad"] += 1
                continue
            code = codes[i % len(codes)]
            texts = by_matter[code]
            text = "，".join(rng.choice(texts) for _ in range(rng.choice((2, 3))))
            m = catalogue.matters[code]
            r = rng.random()
            if r < 0.70:
                name = m.name
            elif r < 0.95:
                name = f"{catalogue.categories[m.category_code].name}/其他/{m.name}"
            else:
                name = f"本中心专项{i % 37}"
            w.writerow([f"WO{i:07d}", text, name, "", ""])
            counts["rows"] += 1
    return counts


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--keep", type=Path, help="keep the CSV and models here")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="bench_import_"))
    work.mkdir(parents=True, exist_ok=True)
    orders = work / "orders.csv"
    t = time.perf_counter()
    counts = write_orders(orders, args.rows)
    write_s = time.perf_counter() - t
    t = time.perf_counter()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "callcenter.cli",
            "train",
            "--import",
            str(orders),
            "--output",
            str(work / "models"),
            "-q",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "CALLCENTER_MODE": "test"},
        check=False,
    )
    wall = time.perf_counter() - t
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    peak_mb, cpu_s = usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime
    print(proc.stdout)
    print(proc.stderr[-2000:])
    print(f"| Orders in the file / bad rows | {counts['rows'] + counts['bad']:,} / {counts['bad']} |")
    print(f"| Writing the CSV ({orders.stat().st_size / 1e6:.0f} MB) | {write_s:.0f} s |")
    print(f"| `train --import` wall time, incl. training and the gate (target ≤ 300 s) | {wall:.0f} s |")
    print(
        f"| `train --import` CPU time (user + system; wall time varies on a shared machine) | {cpu_s:.0f} s |"
    )
    print(f"| Peak memory (max RSS of the import process, target ≤ 2,048 MB) | {peak_mb:.0f} MB |")
    print(f"| Exit code | {proc.returncode} |")
    print(f"| Load average (1 min) after the run | {os.getloadavg()[0]:.1f} |")


if __name__ == "__main__":
    main()
