"""`python -m lessons.bench`."""

from lessons.bench.core import main

main()
