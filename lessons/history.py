"""What `fit` measured: one row per epoch, read by plots, widgets and the benchmark."""

from dataclasses import dataclass, field

import pandas as pd

from lessons.config import DEFAULT_K


@dataclass
class History:
    """What `fit` measured, one row per completed epoch.

    Row keys: `epoch` (1-based), `train_loss` (mean per training query over the epoch: each
    batch's mean loss weighted by its number of rows, so a short last batch counts less),
    `valid_loss`, `recall@k`, `ndcg@k`, `coverage@k` (on the monitored part) and `seconds`
    (epoch wall time, training plus evaluation). An epoch that was not evaluated (`fit`'s
    `eval_every`) has no metric keys in its row; `to_frame` shows them as NaN.

    "Best" is the highest validation NDCG@k; an exact tie keeps the earlier epoch. Early
    stopping counts `patience` in epochs but decides only at evaluated ones.

    Attributes:
        rows: One dict per epoch.
        best_epoch: Epoch with the highest validation NDCG@k, whose weights the model holds
            after `fit`; None when only the test part was monitored (choosing an epoch on test
            data would leak it into the model), or when training was interrupted before the
            first evaluation (the model then holds the last completed epoch, or its initial
            weights when none completed).
        stopped_early: True when `patience` epochs without improvement ended the run before
            the epochs asked for.
        interrupted: True when training was stopped by KeyboardInterrupt (e.g. Kernel ▸ Interrupt).
        k: Cut-off of the ranking metrics.
        monitor: "valid", or "test" when the split has no validation part (monitoring only).
    """

    rows: list[dict] = field(default_factory=list)
    best_epoch: int | None = None
    stopped_early: bool = False
    interrupted: bool = False
    k: int = DEFAULT_K
    monitor: str = "valid"

    @property
    def columns(self) -> tuple[str, ...]:
        metrics = (f"{name}@{self.k}" for name in ("recall", "ndcg", "coverage"))
        return ("epoch", "train_loss", "valid_loss", *metrics, "seconds")

    def to_frame(self) -> pd.DataFrame:
        """The rows as a DataFrame with the columns of `columns` (empty before epoch 1)."""
        return pd.DataFrame(self.rows, columns=list(self.columns))

    def best(self) -> dict:
        """The row of `best_epoch`.

        Raises:
            ValueError: When no epoch was selected (no epoch completed, none evaluated yet, or
                test monitoring).
        """
        if self.best_epoch is None:
            if self.monitor == "test":
                why = ("the split has no validation part, so test metrics were only monitored; "
                       "use random_split(..., valid_frac=0.1) to select an epoch")  # fmt: skip
            elif self.rows:  # e.g. interrupted before the first evaluation of eval_every
                why = f"none of the {len(self.rows)} completed epochs was evaluated yet"
            else:
                why = "no epoch completed"
            raise ValueError(f"no best epoch: {why}")
        return dict(self.rows[self.best_epoch - 1])

    def __len__(self) -> int:
        return len(self.rows)
