"""`python -m lessons.bench`."""

import sys

from lessons.bench.core import main

sys.exit(main())
