"""Helpers for the interactive lessons on deep neural network recommenders.

Import what you need from the submodules (`lessons.data`, `lessons.metrics`, ...); this
top level only carries the two calls every notebook starts with.
"""

from lessons.runtime import seed_everything, set_threads

__all__ = ["seed_everything", "set_threads"]
__version__ = "0.1.0"
