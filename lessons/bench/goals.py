"""The goals the models were built to, read off one benchmark run.

Each goal becomes a row: what it asks, its target on this run, the measured figure and whether
it is met. Goals relative to another model (EASE, the content profile, plain in-batch softmax)
get their target from the same run. The benchmark still asserts nothing: an unmet goal is
printed as "no", so the README's table shows where the models fall short as well.
"""

NDCG_MARGIN = 0.01  # SoftmaxDNN NDCG@10 >= EASE's - this
COVERAGE_FACTOR = 2.0  # SoftmaxDNN Coverage@10 >= this × EASE's
MF_NDCG = 0.40
COLD_FACTOR = 1.5  # TwoTower-cold Recall@20 >= this × a content profile's
FIT_S = 2.0  # default SoftmaxDNN fit, evaluation included
FLOOR_FACTOR = 3.0  # epoch time <= this × its FLOP floor
SCORE_S = 0.1  # scoring every user
PEAK_MB = 1024.0  # the whole benchmark's peak RSS (1 GB)


def _row(goal: str, target: str, measured: str, met: bool) -> dict:
    return {"goal": goal, "target": target, "measured": measured, "met": bool(met)}


def goals(results: dict) -> list[dict]:
    """One row (goal, target, measured, met) per goal, from `lessons.bench.core.run`'s results."""
    models, speed, logq = results["models"], results["speed"], results["logq"]
    dnn, ease = models["SoftmaxDNN"], models["EASE"]
    ndcg_min = ease["ndcg@10"] - NDCG_MARGIN
    cov_min = COVERAGE_FACTOR * ease["coverage@10"]
    rows = [
        _row(f"SoftmaxDNN NDCG@10 ≥ EASE's − {NDCG_MARGIN:g}", f"≥ {ndcg_min:.3f}",
             f"{dnn['ndcg@10']:.3f}", dnn["ndcg@10"] >= ndcg_min),
        _row(f"SoftmaxDNN Coverage@10 ≥ {COVERAGE_FACTOR:g} × EASE's", f"≥ {cov_min:.3f}",
             f"{dnn['coverage@10']:.3f} ({dnn['coverage@10'] / ease['coverage@10']:.2f} × EASE)",
             dnn["coverage@10"] >= cov_min),
        _row(f"MF NDCG@10 ≥ {MF_NDCG:.2f}", f"≥ {MF_NDCG:.3f}", f"{models['MF']['ndcg@10']:.3f}",
             models["MF"]["ndcg@10"] >= MF_NDCG),
    ]  # fmt: skip
    for name, ratio in results["cold_start"]["ratio"].items():
        goal, target = (
            f"TwoTower-cold Recall@20 ≥ {COLD_FACTOR:g} × {name}",
            f"≥ {COLD_FACTOR:.2f} ×",
        )
        rows.append(_row(goal, target, f"{ratio:.2f} ×", ratio >= COLD_FACTOR))
    plain, corrected = logq["TwoTower-inbatch"], logq["TwoTower-inbatch-logQ"]
    rows += [
        _row("logQ: lower ARP@10 than plain in-batch", f"< {plain['arp@10']:.1f}",
             f"{corrected['arp@10']:.1f}", corrected["arp@10"] < plain["arp@10"]),
        _row("logQ: higher Coverage@10 than plain in-batch", f"> {plain['coverage@10']:.3f}",
             f"{corrected['coverage@10']:.3f}", corrected["coverage@10"] > plain["coverage@10"]),
        _row("SoftmaxDNN fit (evaluation included)", f"≤ {FIT_S:.1f} s",
             f"{speed['fit_s']:.2f} s", speed["fit_s"] <= FIT_S),
        _row("SoftmaxDNN epoch / FLOP floor", f"≤ {FLOOR_FACTOR:.1f} ×",
             f"{speed['epoch_over_floor']:.1f} ×", speed["epoch_over_floor"] <= FLOOR_FACTOR),
        _row("scoring all users", f"≤ {SCORE_S * 1e3:.0f} ms",
             f"{speed['score_all_users_s'] * 1e3:.0f} ms", speed["score_all_users_s"] <= SCORE_S),
        _row("benchmark peak RSS", f"≤ {PEAK_MB:.0f} MB",
             f"{results['machine']['peak_rss_mb']:.0f} MB",
             results["machine"]["peak_rss_mb"] <= PEAK_MB),
    ]  # fmt: skip
    return rows


def to_markdown(rows: list[dict]) -> list[str]:
    """The goal rows as a markdown table (a list of lines)."""
    lines = ["| goal | target | measured | met |", "|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['goal']} | {r['target']} | {r['measured']} | "
                     f"{'yes' if r['met'] else 'no'} |")  # fmt: skip
    return lines
