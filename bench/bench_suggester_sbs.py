"""Side-by-side speed of the suggester code of two checkouts on the same model (issue 16).

Run it once per checkout, each in its own process pinned to one core, alternating, e.g.

    git worktree add /tmp/before 7c2b5de
    for r in 1 2; do for root in /tmp/before .; do
        taskset -c 1 .venv/bin/python bench/bench_suggester_sbs.py --root $root --model-dir MODELS
    done; done

It prints one JSON line per run: long texts (the dev set's messages padded to 300 characters, with their
subjects, as in bench_classifier.py) and short texts (the subjects alone) per CPU second, the best of
``--repeats`` alternating runs (a single run of the short texts varies by ±15 % on a quiet machine), and
the first run's figures. Only the ratios of runs made together compare: the machine is shared.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--root", type=Path, default=HERE, help="checkout whose suggester code runs")
    parser.add_argument("--model-dir", type=Path, required=True, help="models folder or a version folder")
    parser.add_argument("--repeats", type=int, default=3, help="runs per figure; the best is printed")
    args = parser.parse_args()
    os.environ.setdefault("CALLCENTER_MODE", "test")
    root = str(args.root.resolve())
    sys.path.insert(0, root)
    import callcenter.plugins.classifier.suggester as suggester_module

    assert suggester_module.__file__ and suggester_module.__file__.startswith(root), suggester_module.__file__
    # the texts always come from this checkout's bench/dev_set.py (an older checkout may lack it)
    spec = importlib.util.spec_from_file_location("sbs_dev_set", HERE / "bench" / "dev_set.py")
    assert spec is not None and spec.loader is not None
    dev_set = sys.modules[spec.name] = importlib.util.module_from_spec(spec)  # dataclasses look it up
    spec.loader.exec_module(dev_set)

    suggester = suggester_module.Suggester.load(args.model_dir)
    messages = dev_set.load()
    items = dev_set.long_items()
    texts = [d for _, d in items] * 2
    subjects: list[str | None] = []
    for _round in range(2):
        subjects.extend(a for a, _ in items)
    short = [m.subject for m in messages] * 4
    suggester.suggest_many(texts[:50], subjects=subjects[:50])  # warm-up
    long_runs, short_runs = [], []
    for _repeat in range(args.repeats):  # alternating, so that a burst of other load hits both alike
        cpu = time.process_time()
        suggester.suggest_many(texts, subjects=subjects)
        long_runs.append(len(texts) / (time.process_time() - cpu))
        cpu = time.process_time()
        suggester.suggest_many(short)
        short_runs.append(len(short) / (time.process_time() - cpu))
    print(
        json.dumps(
            {
                "root": root,
                "long_texts_per_cpu_s": round(max(long_runs)),
                "short_texts_per_cpu_s": round(max(short_runs)),
                "first_run": {"long": round(long_runs[0]), "short": round(short_runs[0])},
            }
        )
    )


if __name__ == "__main__":
    main()
