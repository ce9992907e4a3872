"""The goals the models were built to, read off one benchmark run.

Each goal becomes a row: what it asks, its target on this run, the measured figure and whether
it is met. Goals relative to another model (EASE, the content profile, plain in-batch softmax)
get their target from the same run. The benchmark still asserts nothing: an unmet goal is
printed as "no", so the README's table shows where the models fall short as well.
"""

from operator import ge, gt, le, lt

NDCG_MARGIN = 0.01  # SoftmaxDNN NDCG@10 >= EASE's - this
COVERAGE_FACTOR = 2.0  # SoftmaxDNN Coverage@10 >= this × EASE's
MF_NDCG = 0.40
COLD_FACTOR = 1.5  # TwoTower-cold Recall@20 >= this × a content profile's
FIT_S = 2.0  # default SoftmaxDNN fit, evaluation included
FLOOR_FACTOR = 3.0  # epoch time <= this × its FLOP floor
SCORE_S = 0.1  # scoring every user
PEAK_MB = 1024.0  # the whole benchmark's peak RSS (1 GB)


_SIGNS = {ge: "≥", le: "≤", gt: ">", lt: "<"}


def _row(
    goal: str,
    value: float,
    compare,
    limit: float,
    digits: int,
    *,
    unit: str = "",
    limit_digits: int | None = None,
    note: str = "",
) -> dict:
    """One goal row: met when `compare(value, limit)`.

    The figure prints at `digits` decimals and the limit at `limit_digits` (default `digits`),
    with more of both where rounding would make them read against the verdict: an epoch at
    3.04 × its floor prints "3.04 ×" beside "≤ 3.0 ×" and "no", not "3.0 ×".
    """
    met = bool(compare(value, limit))
    limit_digits = digits if limit_digits is None else limit_digits
    for extra in range(5):  # float noise beyond that many more digits is not worth a reader's eye
        measured, target = f"{value:.{digits + extra}f}", f"{limit:.{limit_digits + extra}f}"
        if compare(float(measured), float(target)) == met:
            break
    return {"goal": goal, "target": f"{_SIGNS[compare]} {target}{unit}",
            "measured": f"{measured}{unit}{note}", "met": met}  # fmt: skip


def goals(results: dict) -> list[dict]:
    """One row (goal, target, measured, met) per goal, from `lessons.bench.core.run`'s results."""
    models, speed, logq = results["models"], results["speed"], results["logq"]
    dnn, ease = models["SoftmaxDNN"], models["EASE"]
    rows = [
        _row(f"SoftmaxDNN NDCG@10 ≥ EASE's − {NDCG_MARGIN:g}", dnn["ndcg@10"], ge,
             ease["ndcg@10"] - NDCG_MARGIN, 3),
        _row(f"SoftmaxDNN Coverage@10 ≥ {COVERAGE_FACTOR:g} × EASE's", dnn["coverage@10"], ge,
             COVERAGE_FACTOR * ease["coverage@10"], 3,
             note=f" ({dnn['coverage@10'] / ease['coverage@10']:.2f} × EASE)"),
        _row(f"MF NDCG@10 ≥ {MF_NDCG:.2f}", models["MF"]["ndcg@10"], ge, MF_NDCG, 3),
    ]  # fmt: skip
    for name, ratio in results["cold_start"]["ratio"].items():
        goal = f"TwoTower-cold Recall@20 ≥ {COLD_FACTOR:g} × {name}"
        rows.append(_row(goal, ratio, ge, COLD_FACTOR, 2, unit=" ×"))
    plain, corrected = logq["TwoTower-inbatch"], logq["TwoTower-inbatch-logQ"]
    rows += [
        _row("logQ: lower ARP@10 than plain in-batch", corrected["arp@10"], lt,
             plain["arp@10"], 1),
        _row("logQ: higher Coverage@10 than plain in-batch", corrected["coverage@10"],
             gt, plain["coverage@10"], 3),
        _row("SoftmaxDNN fit (evaluation included)", speed["fit_s"], le, FIT_S, 2, unit=" s",
             limit_digits=1),
        _row("SoftmaxDNN epoch / FLOP floor", speed["epoch_over_floor"], le, FLOOR_FACTOR, 1,
             unit=" ×"),
        _row("scoring all users", speed["score_all_users_s"] * 1e3, le, SCORE_S * 1e3, 0,
             unit=" ms"),
        _row("benchmark peak RSS", results["machine"]["peak_rss_mb"], le, PEAK_MB, 0,
             unit=" MB"),
    ]  # fmt: skip
    return rows


def to_markdown(rows: list[dict]) -> list[str]:
    """The goal rows as a markdown table (a list of lines)."""
    lines = ["| goal | target | measured | met |", "|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['goal']} | {r['target']} | {r['measured']} | "
                     f"{'yes' if r['met'] else 'no'} |")  # fmt: skip
    return lines
