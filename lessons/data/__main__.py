"""`python -m lessons.data`: fetch a MovieLens variant before class, or prepare it offline.

    python -m lessons.data                      # ML-100K into $LESSONS_DATA_DIR or the cache
    python -m lessons.data 1m --data-dir /srv/data
    python -m lessons.data --offline            # never download: check ml-100k/, or verify
                                                # and extract a zip placed in the folder

Binder's postBuild runs it so a launch starts without a download; a teacher runs it once on a
shared machine. The archive's size and checksums are verified (`lessons.data.download`), and a
failure prints what went wrong and what to do, with exit code 1, not a traceback.
"""

import argparse
import difflib
import sys

from lessons.config import ENV_DATA_DIR, ENV_DATA_URL
from lessons.data.download import resolve_data_dir
from lessons.data.loader import load_movielens
from lessons.data.registry import VARIANTS, DataError, for_the_command_line


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m lessons.data",
        description="Fetch a MovieLens variant (size and checksums verified) or check it.",
        epilog=f"Environment: {ENV_DATA_DIR} is the default data folder, {ENV_DATA_URL} "
        "replaces the GroupLens address (a classroom mirror; the checksums still apply).",
    )
    parser.add_argument("variant", nargs="?", default="100k", choices=sorted(VARIANTS),
                        type=lambda name: name.lower().removeprefix("ml-"),
                        help="MovieLens release (default 100k; 'ml-100k', '100K' too)")  # fmt: skip
    data_dir = parser.add_argument(
        "--data-dir",
        help="folder to hold ml-<variant>/ (default: $LESSONS_DATA_DIR, else the per-user cache)",
    )
    offline = parser.add_argument(
        "--offline",
        action="store_true",
        help="never download: use an extracted folder, or verify and extract a zip placed there",
    )
    options = ["-h", "--help", *data_dir.option_strings, *offline.option_strings]
    _refuse_unknown_options(parser, options, sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    try:
        ds = load_movielens(args.variant, data_dir=args.data_dir, download=not args.offline)
    except DataError as err:
        print(f"error: {for_the_command_line(err)}", file=sys.stderr)
        return 1
    print(f"{ds.name} ready in {resolve_data_dir(args.data_dir)}: {ds.n_users:,} users, "
          f"{ds.n_items:,} items, {len(ds.interactions):,} ratings")  # fmt: skip
    return 0


def _refuse_unknown_options(
    parser: argparse.ArgumentParser, known: list[str], argv: list[str]
) -> None:
    """Name a mistyped option before argparse reads its value as the variant.

    Unchecked, `--datadir /srv` was reported as "invalid choice: '/srv'", which hides the typo.
    A prefix of a known option stays valid, as argparse allows (`--off` for `--offline`).
    """
    for arg in argv:
        option = arg.split("=", 1)[0]
        if option.startswith("-") and not any(name.startswith(option) for name in known):
            close = difflib.get_close_matches(option, known, n=1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            parser.error(f"unrecognized option {option}{hint}")


if __name__ == "__main__":
    sys.exit(main())
