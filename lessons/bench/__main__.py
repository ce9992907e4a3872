"""`python -m lessons.bench`."""

import sys

from lessons.bench.core import main

if __name__ == "__main__":
    sys.exit(main())
