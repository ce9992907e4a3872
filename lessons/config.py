"""Conventions shared by every module and notebook: column names, seed, K and environment variables.

Keeping them in one place means a notebook, a test and the benchmark can never disagree about
what "the user column" or "the default K" is.
"""

# Column names of every interactions table (`Dataset.interactions`, `Split.train`, ...).
USER = "user"
ITEM = "item"
RATING = "rating"
TIMESTAMP = "timestamp"
INTERACTION_COLUMNS = (USER, ITEM, RATING, TIMESTAMP)

# Default seed for splits, synthetic data and training; seeding itself is opt-in
# through `lessons.seed_everything`.
DEFAULT_SEED = 0

# Cut-offs used across the lessons: NDCG, coverage and the popularity metrics at 10,
# Recall at 20 (the figures the benchmark and the lessons quote).
DEFAULT_K = 10
RECALL_K = 20

# Share of the most-interacted items that forms the "short head"; the rest is the long tail
# (APLT, Abdollahpouri et al. 2019).
SHORT_HEAD_SHARE = 0.2

# "Reach": the share of users shown at least one of the REACH_TOP most-interacted items.
REACH_TOP = 20

# Environment variables the package reads.
ENV_DATA_DIR = "LESSONS_DATA_DIR"  # folder holding ml-100k/ (CI, offline classrooms)
ENV_NUM_THREADS = "LESSONS_NUM_THREADS"  # torch threads; default: available cores
ENV_QUIET = "LESSONS_QUIET"  # "1" silences progress bars (tests, CI logs)
ENV_DATA_URL = "LESSONS_DATA_URL"  # overrides the GroupLens download URL (mirrors, tests)
