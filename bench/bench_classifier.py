"""Benchmark of the suggester (智能派单建议): accuracy on the held-out generated split, auto-dispatch
accuracy/coverage, owning-unit and place accuracy, hand-written cases, throughput, latency, load and
training time / memory.

    .venv/bin/python bench/bench_classifier.py            # trains a fresh model into a temp folder
    .venv/bin/python bench/bench_classifier.py --model-dir var/classifier/models   # use an existing one

Prints a Markdown section for docs/benchmarks.md and, with --json FILE, the raw figures.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("CALLCENTER_MODE", "test")


def cpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=False).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def load_time(model_dir: Path) -> float:
    """Model load time in a fresh process (includes jieba initialisation and the user dictionary)."""
    code = (
        "import time; t=time.perf_counter(); from callcenter.plugins.classifier.suggester import Suggester; "
        f"Suggester.load({str(model_dir)!r}, threshold=0.85); print(time.perf_counter()-t)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--model-dir", type=Path, help="existing models folder (skip training)")
    parser.add_argument("--per-matter", type=int, default=40)
    parser.add_argument("--json", type=Path, help="write raw figures here")
    parser.add_argument("--markdown-from", type=Path, help="only print the Markdown of a saved --json file")
    parser.add_argument("--final", action="store_true", help="also score the final part of the dev set")
    args = parser.parse_args()
    if args.markdown_from:
        print(markdown(json.loads(args.markdown_from.read_text(encoding="utf-8"))))
        return

    from callcenter.catalogue import load_catalogue
    from callcenter.plugins.classifier.corpus import generate
    from callcenter.plugins.classifier.places import extract_places
    from callcenter.plugins.classifier.routing import AreaRef, resolve_unit
    from callcenter.plugins.classifier.suggester import Suggester
    from callcenter.plugins.classifier.training import DEFAULT_PER_MATTER, read_metadata_for, train

    catalogue = load_catalogue()
    per_matter = dict(DEFAULT_PER_MATTER, train=args.per_matter)
    figures: dict[str, Any] = {"machine": {"cpus": os.cpu_count(), "model": cpu_model()}}
    figures["date"] = datetime.now(UTC).strftime("%Y-%m-%d")
    if args.model_dir:
        models_dir = args.model_dir
        meta = read_metadata_for(models_dir)
        seed, per_matter = int(meta["extra"]["seed"]), dict(meta["extra"]["per_matter"])
    else:
        models_dir = Path(tempfile.mkdtemp(prefix="bench_classifier_")) / "models"
        seed = 12345
        info = train(models_dir, (), progress=False, per_matter=per_matter, seed=seed, n_jobs=2)
        meta = info.to_dict()
    figures["training"] = {
        "seconds": meta["timings"]["total_s"],
        "fit_seconds": meta["timings"]["fit_s"],
        "peak_rss_mb": meta["extra"]["peak_rss_mb"],
        "model_mb": round(meta["extra"]["model_bytes"] / 1e6, 2),
        "train_texts": meta["counts"]["train"],
        "features": meta["counts"]["features"],
        "n_jobs": 2,
    }
    figures["heldout"] = {k: meta["metrics"][k] for k in ("n", "top1", "top3", "macro_f1", "category_top1")}
    figures["ood_generated"] = meta["metrics"].get("out_of_domain")
    figures["auto_dispatch_curve_matter"] = meta["metrics"]["auto_dispatch_curve"]
    figures["load_seconds"] = round(load_time(models_dir), 3)

    suggester = Suggester.load(models_dir, catalogue, threshold=0.85)
    os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core from here on

    test = [s for s in generate(catalogue, per_matter, seed=seed) if s.split == "test"]
    texts = [s.text for s in test]
    figures["load_average_1min"] = round(os.getloadavg()[0], 2)
    t, cpu = time.perf_counter(), time.process_time()
    results = suggester.suggest_many(texts)
    batch_s, batch_cpu = time.perf_counter() - t, time.process_time() - cpu
    figures["throughput_batch_texts_per_s"] = round(len(texts) / batch_s)
    figures["throughput_batch_texts_per_cpu_s"] = round(len(texts) / batch_cpu)

    lat = []
    cpu = time.process_time()
    for text in texts[:3000]:
        t = time.perf_counter()
        suggester.suggest(text)
        lat.append(time.perf_counter() - t)
    single_cpu = time.process_time() - cpu
    lat_ms = np.array(lat) * 1000
    figures["latency_ms"] = {
        "p50": round(float(np.percentile(lat_ms, 50)), 3),
        "p99": round(float(np.percentile(lat_ms, 99)), 3),
        "max": round(float(lat_ms.max()), 3),
        "single_texts_per_s": round(len(lat) / float(np.sum(lat))),
        "single_texts_per_cpu_s": round(len(lat) / single_cpu),
    }
    figures["mean_chars"] = round(float(np.mean([len(x) for x in texts])), 1)

    # place extraction and owning unit on the held-out split (the generator knows the true area)
    district_ok = street_ok = community_ok = n_d = n_s = n_c = none_ok = n_none = 0
    unit_ok = unit_n = 0
    curve_rows = []
    for sample, result in zip(test, results, strict=True):
        place = result.place
        assert place is not None
        if sample.district_code:
            n_d += 1
            district_ok += place.district_code == sample.district_code
            if sample.street_code:
                n_s += 1
                street_ok += place.street_code == sample.street_code
            if sample.community_code:
                n_c += 1
                community_ok += place.community_code == sample.community_code
            truth = resolve_unit(
                catalogue,
                sample.matter_code,
                AreaRef(sample.district_code, sample.street_code, sample.community_code),
            )
            got = result.unit.unit_code if result.unit else None
            unit_n += 1
            unit_ok += got == truth.unit_code
            curve_rows.append((result.confidence, got == truth.unit_code, result.auto_dispatch))
        else:
            n_none += 1
            none_ok += place.district_code is None
    figures["place"] = {
        "district": round(district_ok / n_d, 4),
        "street": round(street_ok / n_s, 4),
        "community": round(community_ok / n_c, 4),
        "no_place_kept_empty": round(none_ok / n_none, 4),
        "n": n_d,
    }
    conf = np.array([r[0] for r in curve_rows])
    ok = np.array([r[1] for r in curve_rows])
    figures["unit"] = {"accuracy": round(float(ok.mean()), 4), "n": unit_n}
    figures["auto_dispatch_curve_unit"] = [
        {
            "threshold": th,
            "coverage": round(float((conf >= th).mean()), 4),
            "accuracy": round(float(ok[conf >= th].mean()), 4) if (conf >= th).any() else None,
        }
        for th in (0.5, 0.7, 0.85, 0.9, 0.95)
    ]
    auto = np.array([r[2] for r in curve_rows])
    figures["auto_dispatch_at_0_85"] = {
        "share_of_texts_with_place": round(float(auto.mean()), 4),
        "unit_accuracy_when_auto": round(float(ok[auto].mean()), 4) if auto.any() else None,
    }

    # hand-written cases (tests/classifier/cases.py): not generated, never trained on
    from tests.plugins.classifier.cases import HAND_CASES

    hand = suggester.suggest_many([t for _, _, t in HAND_CASES])
    h1 = sum(
        bool(r.matters) and r.matters[0].name in set(e.split("|"))
        for (_, e, _), r in zip(HAND_CASES, hand, strict=True)
    )
    h3 = sum(
        bool(set(e.split("|")) & {m.name for m in r.matters})
        for (_, e, _), r in zip(HAND_CASES, hand, strict=True)
    )
    figures["hand_cases"] = {
        "n": len(HAND_CASES),
        "top1": round(h1 / len(HAND_CASES), 4),
        "top3": round(h3 / len(HAND_CASES), 4),
    }

    # out-of-domain speech (非诉求): the hand-written held-out set of tests/classifier/ood_cases.py
    from tests.plugins.classifier.ood_cases import KNOWN_EXAMPLE, OOD_HELDOUT

    ood = suggester.suggest_many(OOD_HELDOUT)
    known = suggester.suggest(KNOWN_EXAMPLE)
    figures["ood_hand"] = {
        "n": len(OOD_HELDOUT),
        "rejected": round(sum(r.no_suggestion_reason == "out_of_domain" for r in ood) / len(OOD_HELDOUT), 4),
        "auto_dispatched": sum(r.auto_dispatch for r in ood),
        "known_example_rejected": known.no_suggestion_reason == "out_of_domain",
        "known_example_score": known.out_of_domain_score,
        "hand_cases_rejected": sum(not r.in_domain for r in hand),
    }

    # generated held-out split through the suggester itself (category before matter, long-text path)
    figures["heldout_via_suggester_matter_top1"] = round(
        float(
            np.mean(
                [
                    bool(r.matters) and r.matters[0].code == x.matter_code
                    for r, x in zip(results, test, strict=True)
                ]
            )
        ),
        4,
    )

    # the real-style dev set (bench/data/citizen_messages_dev.jsonl), category level; the `final` part
    # is only scored with --final (looked at once, see bench/dev_set.py)
    import dev_set

    figures["dev_tune"] = dev_set.evaluate(suggester, "tune")
    figures["dev_tune_subject_only"] = {
        k: v
        for k, v in dev_set.evaluate(suggester, "tune", subject_only=True).items()
        if k in ("n", "category_top1", "category_top3")
    }
    if args.final:
        figures["dev_final"] = dev_set.evaluate(suggester, "final")
        figures["dev_all"] = dev_set.evaluate(suggester, None)

    # long texts (≈300 characters: a subject and a detail padded with the next messages' details)
    from callcenter.plugins.classifier.text import cut

    long_items = dev_set.long_items() * 2
    long_texts = [d for _, d in long_items]
    long_subjects = [a for a, _ in long_items]
    cpu = time.process_time()
    for t_ in long_texts:
        cut(f"{t_}")
    jieba_cpu = time.process_time() - cpu
    # side by side: the Python jieba (the tokenizer of earlier versions) with the same user dictionary
    import jieba

    from callcenter.plugins.classifier.text import user_word_freq

    py_jieba = jieba.Tokenizer()
    py_jieba.initialize()
    for word in suggester.model.user_words:
        py_jieba.add_word(word, user_word_freq(word))
    cpu = time.process_time()
    for t_ in long_texts:
        py_jieba.lcut(t_, HMM=False)
    py_jieba_cpu = time.process_time() - cpu
    cpu, t = time.process_time(), time.perf_counter()
    suggester.suggest_many(long_texts, subjects=long_subjects)
    long_cpu, long_wall = time.process_time() - cpu, time.perf_counter() - t
    figures["long_texts"] = {
        "n": len(long_texts),
        "mean_chars": round(float(np.mean([len(a) + len(d) for a, d in long_items])), 1),
        "texts_per_s": round(len(long_texts) / long_wall),
        "texts_per_cpu_s": round(len(long_texts) / long_cpu),
        "jieba_alone_texts_per_cpu_s": round(len(long_texts) / jieba_cpu),
        "python_jieba_alone_texts_per_cpu_s": round(len(long_texts) / py_jieba_cpu),
    }

    # place extraction alone, single core
    t = time.perf_counter()
    for text in texts:
        extract_places(text, suggester.gazetteer)
    figures["place_texts_per_s"] = round(len(texts) / (time.perf_counter() - t))

    if args.json:
        args.json.write_text(json.dumps(figures, ensure_ascii=False, indent=2), encoding="utf-8")
    print(markdown(figures))


def _curve(rows: list[dict[str, Any]], label: str) -> list[str]:
    out = [f"| Threshold | Coverage | {label} |", "|---|---|---|"]
    for row in rows:
        acc = "-" if row["accuracy"] is None else f"{row['accuracy']:.3f}"
        out.append(f"| {row['threshold']} | {row['coverage']:.3f} | {acc} |")
    return out


def markdown(f: dict[str, Any]) -> str:
    h, tr, pl, lat, hc = f["heldout"], f["training"], f["place"], f["latency_ms"], f["hand_cases"]
    auto = f["auto_dispatch_at_0_85"]
    rows = [
        ("Held-out generated split (unseen templates; unseen phrasings if ≥3), n", f"{h['n']}"),
        ("Top-1 / top-3 matter accuracy", f"{h['top1']:.3f} / {h['top3']:.3f}"),
        ("Macro-F1 (769 matters)", f"{h['macro_f1']:.3f}"),
        ("大类 (category) top-1 accuracy", f"{h['category_top1']:.3f}"),
        (f"Hand-written cases (tests/classifier/cases.py), top-1 / top-3, n={hc['n']}",
         f"{hc['top1']:.3f} / {hc['top3']:.3f}"),
        (f"Owning-unit accuracy (texts naming a place), n={f['unit']['n']}", f"{f['unit']['accuracy']:.3f}"),
        ("Place: district / street / community accuracy",
         f"{pl['district']:.3f} / {pl['street']:.3f} / {pl['community']:.3f}"),
        ("Place: texts without a place left empty", f"{pl['no_place_kept_empty']:.3f}"),
        ("Throughput, batch, one core, incl. tokenizer + place + unit (target ≥ 2,000/s): wall / CPU time",
         f"{f['throughput_batch_texts_per_s']:,} / {f['throughput_batch_texts_per_cpu_s']:,} texts/s"),
        ("Throughput, one text per call, one core: wall / CPU time",
         f"{lat['single_texts_per_s']:,} / {lat['single_texts_per_cpu_s']:,} texts/s"),
        (f"Latency per text p50 / p99 / max (mean {f['mean_chars']} chars)",
         f"{lat['p50']} / {lat['p99']} / {lat['max']} ms"),
        ("Load average (1 min) during the timing runs", f"{f['load_average_1min']}"),
        ("Model load time (fresh process, incl. the tokenizer dictionary)", f"{f['load_seconds']} s"),
        ("Training time (2 jobs) / linear model", f"{tr['seconds']:.0f} s / {tr['fit_seconds']:.0f} s"),
        ("Training peak memory (RSS) / model file", f"{tr['peak_rss_mb']:.0f} MB / {tr['model_mb']} MB"),
    ]  # fmt: skip
    og, oh = f.get("ood_generated"), f.get("ood_hand")
    if og and oh:
        rows[5:5] = [
            (f"Out-of-domain: held-out generated texts rejected (n={og['n_out']}) / requests rejected",
             f"{og['rejection_rate']:.3f} / {og['false_rejection_rate']:.3f}"),
            (f"Out-of-domain hand-written held-out set rejected (tests/classifier/ood_cases.py), n={oh['n']}",
             f"{oh['rejected']:.3f} ({oh['auto_dispatched']} auto-dispatched)"),
            ("Known example 每一天都要快乐喔: rejected / P(not a request)",
             f"{'yes' if oh['known_example_rejected'] else 'NO'} / {oh['known_example_score']:.3f}"),
            ("Hand-written request cases wrongly rejected as out-of-domain",
             f"{oh['hand_cases_rejected']} of {hc['n']}"),
        ]  # fmt: skip
    if "dev_tune" in f:
        dt, ds, lt = f["dev_tune"], f["dev_tune_subject_only"], f["long_texts"]
        rows[1:1] = [
            ("Same split through the suggester (category before matter), matter top-1",
             f"{f['heldout_via_suggester_matter_top1']:.3f}"),
        ]  # fmt: skip
        rows += [
            (f"Real-style dev set, tune part (n={dt['n']}): category top-1 / top-3 (target ≥ 0.85 / 0.95)",
             f"{dt['category_top1']:.3f} / {dt['category_top3']:.3f}"),
            ("Dev set tune part, subject only: category top-1 / top-3",
             f"{ds['category_top1']:.3f} / {ds['category_top3']:.3f}"),
            ("Dev set tune part: matter top-1 (messages with a matter) / request type accuracy",
             f"{dt['matter_top1']:.3f} / {dt['request_type_accuracy']:.3f}"),
            ("Dev set tune part: auto-dispatched / their category accuracy",
             f"{dt['auto_dispatched']} / {dt['auto_dispatch_category_accuracy']}"),
            ("Dev set tune part, second request: flagged / right category / false flags on single requests",
             "{flagged:.3f} / {right_category:.3f} / {false_flags_on_single:.3f}".format(
                 **dt["second_request"])),
            (f"Long texts (mean {lt['mean_chars']} chars, subject + detail), batch, one core "
             "(target ≥ 1,000/s): wall / CPU time; tokenizer alone CPU time, rjieba / Python jieba",
             f"{lt['texts_per_s']:,} / {lt['texts_per_cpu_s']:,} texts/s; "
             f"{lt['jieba_alone_texts_per_cpu_s']:,} / {lt['python_jieba_alone_texts_per_cpu_s']:,}"),
        ]  # fmt: skip
        for part in ("dev_final", "dev_all"):
            if part in f:
                d = f[part]
                rows.append(
                    (f"Real-style dev set, {part[4:]} (n={d['n']}): category top-1 / top-3; request type",
                     f"{d['category_top1']:.3f} / {d['category_top3']:.3f}; {d['request_type_accuracy']:.3f}")
                )  # fmt: skip
    lines = [
        f"Machine: {f['machine']['cpus']} cores, {f['machine']['model']}; date {f['date']}. "
        f"Model: {tr['train_texts']} generated training texts, {tr['features']} features.",
        "",
        "| Figure | Value |",
        "|---|---|",
        *[f"| {label} | {value} |" for label, value in rows],
        "",
        "Auto-dispatch accuracy / coverage: matter top-1 correct among texts whose confidence clears it.",
        "",
        *_curve(f["auto_dispatch_curve_matter"], "Matter accuracy"),
        "",
        "Same curve for the owning unit (texts naming a place):",
        "",
        *_curve(f["auto_dispatch_curve_unit"], "Unit accuracy"),
        "",
        f"At the default threshold 0.85, {auto['share_of_texts_with_place']:.1%} of the held-out texts"
        " that name a place are auto-dispatched (confidence ≥ 0.85, owner not the center);"
        f" the owning unit is right for {auto['unit_accuracy_when_auto']:.1%} of those.",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
