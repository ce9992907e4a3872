"""Small training helpers shared by the model tests."""

import torch


def adam_steps(model, batch, steps: int, lr: float) -> None:
    """`steps` Adam steps on model.loss(batch)."""
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    for _ in range(steps):
        optimizer.zero_grad()
        model.loss(batch).backward()
        optimizer.step()


def train_steps(model, batch, steps: int = 200, lr: float = 0.05) -> tuple[float, float]:
    """Loss before and after `steps` seeded Adam steps on one batch."""
    torch.manual_seed(0)
    first = model.loss(batch).item()
    adam_steps(model, batch, steps, lr)
    return first, model.loss(batch).item()
