"""Benchmark: `python -m lessons.bench [--json]` measures every model on this machine.

Protocol (fixed so figures are comparable): MovieLens 100K, all ratings implicit, a per-user
random 80/20 split with seed 0, full-catalogue ranking with training items excluded. The
markdown table it prints goes into the README; `--json` prints one object with sections
`models`, `speed`, `cold_start`, `logq`, `machine` and `goals` (`lessons.bench.goals`).

It is a benchmark, not a test: it prints figures and asserts nothing.
"""

import argparse
import json
import shlex
import sys
import time
from functools import partial

from tqdm.auto import tqdm

from lessons.bench import goals
from lessons.bench.measure import PeakRSS, machine_info
from lessons.bench.runners import measure, runners, speed_report, warm_up
from lessons.bench.sections import cold_start, logq
from lessons.config import DEFAULT_SEED, ENV_DATA_DIR
from lessons.runtime import show_progress


def run(data_dir: str | None = None, dataset=None, download: bool = True) -> dict:
    """Run the whole benchmark and return its results as one JSON-ready dict.

    Args:
        data_dir: Folder holding ml-100k/ (default: $LESSONS_DATA_DIR, then the cache).
        dataset: Benchmark this `Dataset` instead of MovieLens 100K (used by the smoke test).
        download: Fetch MovieLens 100K when it is not on disk.
    """
    from lessons.data.loader import load_movielens
    from lessons.data.splits import random_split
    from lessons.runtime import set_threads

    set_threads()
    with PeakRSS() as total:
        start = time.perf_counter()
        data = (
            load_movielens("100k", data_dir=data_dir, download=download)
            if dataset is None
            else dataset
        )
        load_s = time.perf_counter() - start
        split = random_split(data, test_frac=0.2, seed=DEFAULT_SEED)
        machine = machine_info()
        warm_up()
        stages = {name: partial(measure, runner, split) for name, runner in runners().items()}
        stages |= {"speed": partial(speed_report, split), "cold start": partial(cold_start, data),
                   "logQ": partial(logq, split)}  # fmt: skip
        # 10–15 s on an idle 2-core machine, longer under load: a bar of stages on stderr
        # (stdout stays the table or the JSON).
        bar = tqdm(stages.items(), desc="bench", unit="stage", disable=not show_progress())
        done = {}
        for name, stage in bar:
            bar.set_postfix_str(name)
            done[name] = stage()
        speed, cold, correction = done.pop("speed"), done.pop("cold start"), done.pop("logQ")
        models = done
    results = {
        "protocol": f"{data.name}, per-user random 80/20, seed {DEFAULT_SEED}, "
        "all ratings implicit",
        "load_s": load_s,
        "models": models,
        "speed": speed,
        "cold_start": cold,
        "logq": correction,
        "machine": {**machine, "peak_rss_mb": total.peak_mb},
    }
    return {**results, "goals": goals.goals(results)}


COLUMNS = (
    ("recall@20", "Recall@20", "{:.3f}"),
    ("ndcg@10", "NDCG@10", "{:.3f}"),
    ("coverage@10", "Coverage@10", "{:.3f}"),
    ("arp@10", "ARP@10", "{:.1f}"),
    ("fit_s", "fit s", "{:.2f}"),
    ("epoch_s", "s/epoch", "{:.3f}"),
    ("peak_mb", "peak MB", "{:.0f}"),
)


def to_markdown(results: dict) -> str:
    """Render the results as the markdown the README quotes."""
    head = "| model | " + " | ".join(title for _, title, _ in COLUMNS) + " |"
    lines = [f"Protocol: {results['protocol']}.", "", head, "|---" * (len(COLUMNS) + 1) + "|"]
    for name, row in results["models"].items():
        cells = (fmt.format(row[key]) if key in row else "–" for key, _, fmt in COLUMNS)
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    m, s = results["machine"], results["speed"]
    cold = results["cold_start"]
    lines += [
        "",
        f"Cold-start items: {cold['held_out_items']} movies ({cold['item_frac']:.0%}, seed "
        f"{DEFAULT_SEED}) held out "
        "whole; each user's held-out movies are ranked among them only. They have no training "
        "interactions, so ARP@10 is 0.",
        "",
        *_section("Cold-start items", cold["models"]),
    ]
    ratios = ", ".join(f"{r:.2f} × {n}" for n, r in cold["ratio"].items())
    lines += ["", f"TwoTower-cold Recall@20 = {ratios}."]
    twice = ", ".join(name for name in results["logq"] if name in results["models"])
    lines += [
        "",
        "The logQ section trains its own models on the warm split"
        + (f", so the fit time of {twice} here is a second run." if twice else "."),
        "",
        *_section("logQ correction (warm split)", results["logq"]),
    ]
    peaks, (low, high) = s["matmul_gflops_per_fit"], s["epoch_over_floor_range"]
    lines += [
        "",
        "Default SoftmaxDNN speed:",
        "",
        f"- fit: {s['fit_s']:.2f} s, the best of {len(peaks)}, evaluation included (the table "
        "above times one);",
        f"- epoch: {s['epoch_s'] * 1e3:.0f} ms = {s['epoch_over_floor']:.1f} × its FLOP floor "
        f"({s['flops_per_epoch'] / 1e9:.2f} GFLOP per epoch). The ratio is the median of "
        f"{len(peaks)} fits, each against the matmul peak measured just before it: "
        f"{_span(low, high, '.1f')} ×, at {_span(min(peaks), max(peaks), '.0f')} GFLOP/s;",
        f"- the epoch's matrix products, timed bare: {s['epoch_gemm_s'] * 1e3:.0f} ms "
        f"({s['epoch_gemm_s'] / s['epoch_floor_s']:.1f} × the floor);",
        f"- scoring all users: {s['score_all_users_s'] * 1e3:.0f} ms.",
        "",
        f"Machine: {m['cores']} cores, torch {m['torch']} with {m['torch_threads']} threads, "
        f"float32 matmul {m['matmul_gflops']} GFLOP/s at start; "
        f"peak RSS {m['peak_rss_mb']:.0f} MB; "
        f"ML-100K loaded in {results['load_s']:.2f} s.",
        "",
        *goals.to_markdown(results["goals"]),
    ]
    return "\n".join(lines)


def _span(low: float, high: float, spec: str) -> str:
    """ "2.3–2.9", or one figure when both ends print the same ("2.4", not "2.4–2.4")."""
    low, high = format(low, spec), format(high, spec)
    return low if low == high else f"{low}–{high}"


def _section(title: str, rows: dict) -> list[str]:
    cols = [c for c in COLUMNS if c[0] in next(iter(rows.values()))]
    head = f"| {title} | " + " | ".join(t for _, t, _ in cols) + " |"
    lines = [head, "|---" * (len(cols) + 1) + "|"]
    for name, row in rows.items():
        lines.append(f"| {name} | " + " | ".join(f.format(row[k]) for k, _, f in cols) + " |")
    return lines


def _how_to_get_the_data(data_dir: str | None) -> str:
    """The loader's advice ends with the synthetic stand-in the lessons fall back to; the
    benchmark's figures are defined on MovieLens 100K only, so it says how to fetch that."""
    text = "The benchmark measures MovieLens 100K itself, not the synthetic stand-in: fetch it"
    if data_dir:  # --data-dir wins over the environment variable: name only the folder
        return f"{text} with `python -m lessons.data 100k --data-dir {shlex.quote(data_dir)}`."
    return (
        f"{text} with `python -m lessons.data 100k`, or set {ENV_DATA_DIR} to a folder that "
        "holds ml-100k/."
    )


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print it; returns the exit code (1 without usable data: the error,
    and for missing data how to fetch it, on stderr)."""
    from lessons.data.registry import DataError, DataUnavailableError, for_the_command_line

    parser = argparse.ArgumentParser(prog="python -m lessons.bench", description=__doc__)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--data-dir", help="folder holding ml-100k/ (default: "
                        "$LESSONS_DATA_DIR, else the per-user cache)")  # fmt: skip
    parser.add_argument("--offline", action="store_true", help="never download MovieLens")
    args = parser.parse_args(argv)
    try:
        results = run(args.data_dir, download=not args.offline)
    except DataError as err:  # an instruction to print, not a traceback
        print(f"error: {for_the_command_line(err)}", file=sys.stderr)
        if isinstance(err, DataUnavailableError):  # missing, not damaged: say how to get it
            print(_how_to_get_the_data(args.data_dir), file=sys.stderr)
        return 1
    if args.json:
        json.dump(results, sys.stdout, indent=2, default=float)
        print()
    else:
        print(to_markdown(results))
    return 0
