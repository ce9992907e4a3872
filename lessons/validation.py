"""Evaluation during training: the monitored split part, prepared once per fit.

The query input is the FULL training history (plus the revealed query of a cold-start-users
split: `Split.history_matrix`), and Recall@k, NDCG@k and Coverage@k of the top-k lists come
from `lessons.metrics`; `valid_loss` is `model.loss` with the monitored items as targets.

What is excluded from the ranking depends on the monitored part:

* valid: the input items only (train + query). The validation items are the targets, so
  they must stay rankable.
* test (a split without a validation part): `Split.seen_matrix()`, exactly as
  `lessons.metrics.evaluate` excludes; with no validation part it equals the input items.
"""

from dataclasses import dataclass, replace

import numpy as np
import scipy.sparse as sp
import torch

from lessons.data.dataset import Split
from lessons.features import QueryBatch
from lessons.metrics import ndcg_at_k, recall_at_k, top_k
from lessons.scoring import (
    SCORE_BATCH,
    check_scorable,
    evaluating,
    history_matrix,
    user_batches,
)


def _loss_and_logits(
    model: torch.nn.Module, batch: QueryBatch, n_items: int
) -> tuple[float, torch.Tensor]:
    """`model.loss(batch)` and the logits `model(batch)`, with a single forward pass when the
    loss itself calls `model(batch)` (SoftmaxDNN): a hook keeps that output for the ranking."""
    outputs: list[torch.Tensor] = []
    hook = model.register_forward_hook(lambda _module, _inputs, out: outputs.append(out))
    try:
        loss = float(model.loss(batch))
    finally:
        hook.remove()
    reusable = outputs and outputs[-1].shape == (batch.size, n_items)
    return loss, outputs[-1] if reusable else model(batch)


@dataclass(frozen=True)
class Evaluator:
    """Evaluation on one split part, prepared once per fit (batches, truth, exclusions)."""

    batches: list[QueryBatch]
    truth: sp.csr_matrix  # (n_eval_users, n_items) relevant items
    seen: sp.csr_matrix  # (n_eval_users, n_items) items excluded from the ranking (see above)
    candidates: np.ndarray | None
    n_items: int
    k: int
    part: str

    @classmethod
    def build(cls, model, data: Split, features, k: int, use_side: bool, use_dense: bool,
              batch_size: int = SCORE_BATCH):  # fmt: skip
        """Batches of `batch_size` users (the training batch size: an in-batch loss depends on
        the batch, and its (P, P) logits grow with the square of the batch)."""
        part = "valid" if data.valid is not None else "test"
        truth = data.valid_matrix() if part == "valid" else data.test_matrix()
        users = np.flatnonzero(np.diff(truth.indptr) > 0)
        if users.size == 0:
            raise ValueError(f"the {part} part of the split is empty; there is nothing to evaluate")
        # Train + query: the validation targets stay rankable. A test-monitored split has no
        # validation part, so this is its seen_matrix() (everything a test ranking leaves out).
        seen = history_matrix(data)
        check_scorable(model, data, users)
        batches = user_batches(data, users, features, truth, use_side=use_side,
                               use_dense=use_dense, size=batch_size)  # fmt: skip
        # Cold-start items are ranked among the held-out candidates only at test time; the
        # test loss then leaves every other item out of the softmax, like the ranking.
        candidates = data.candidates if part == "test" else None
        if candidates is not None:
            others = torch.ones(data.n_items, dtype=torch.bool)
            others[torch.as_tensor(candidates, dtype=torch.long)] = False
            batches = [replace(b, exclude_items=others) for b in batches]
        return cls(batches, truth[users], seen[users], candidates, data.n_items, k, part)

    def __call__(self, model: torch.nn.Module) -> dict:
        with evaluating(model):
            pairs = [_loss_and_logits(model, b, self.n_items) for b in self.batches]
        scores = torch.cat([logits for _, logits in pairs])
        loss = sum(value * b.size for (value, _), b in zip(pairs, self.batches, strict=True))
        loss /= len(scores)
        lists = top_k(scores, self.k, exclude=self.seen, candidates=self.candidates)
        k = self.k
        n_rankable = self.n_items if self.candidates is None else len(self.candidates)
        return {
            "valid_loss": loss,
            f"recall@{k}": recall_at_k(lists, self.truth, k),
            f"ndcg@{k}": ndcg_at_k(lists, self.truth, k),
            # Share of the rankable catalogue (all items, or the candidates) ever shown.
            f"coverage@{k}": np.unique(lists[lists >= 0]).size / n_rankable,
        }
