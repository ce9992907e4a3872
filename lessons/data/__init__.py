"""MovieLens loading, the synthetic MovieLens-shaped generator, and leak-free splits."""

from lessons.data.dataset import Dataset, Split, interaction_matrix

__all__ = ["Dataset", "Split", "interaction_matrix"]
