"""`python -m lessons.exercises`: the teacher's key, every exercise with its hints and solution.

    python -m lessons.exercises             # all seven notebooks, as Markdown
    python -m lessons.exercises nb04 nb05   # some of them
    python -m lessons.exercises > key.md    # to print before class

The solutions are the code that `.solution()` shows in the notebook, written with the
notebook's own names; they run there, not on their own.
"""

import argparse
import importlib

NOTEBOOKS = ("nb00", "nb01", "nb02", "nb03", "nb04", "nb05", "nb06")


def _option(exercise, letter: str) -> str:
    """One option of a multiple-choice question, with why it is wrong when it is."""
    why = exercise.why_not.get(letter)
    return f"\n- ({letter}) {exercise.choices[letter]}" + (f"\n  - why not: {why}" if why else "")


def key(notebook: str) -> str:
    """One notebook's exercises as Markdown: question and options, hints, solution, why."""
    parts = [f"## {notebook}"]
    for exercise in importlib.import_module(f"lessons.exercises.{notebook}").EXERCISES:
        options = "".join(_option(exercise, letter) for letter in exercise.choices)
        hints = "".join(f"\n{i}. {hint}" for i, hint in enumerate(exercise.hints, 1))
        why = f"\n\nWhy: {exercise.explanation}" if exercise.explanation else ""
        solution = f"```python\n{exercise.solution_code}\n```"
        parts.append(f"### {exercise.name}\n\n{exercise.question}\n{options}\n\n"
                     f"Hints:{hints or ' none'}\n\n{solution}{why}")  # fmt: skip
    return "\n\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m lessons.exercises",
        description="Print every exercise with its hints and solution (the teacher's key).",
    )
    parser.add_argument("notebooks", nargs="*", metavar="nbXX",
                        help="notebooks to print (default: all seven)")  # fmt: skip
    args = parser.parse_args(argv)
    unknown = [name for name in args.notebooks if name not in NOTEBOOKS]
    if unknown:
        parser.error(f"unknown notebook {unknown[0]!r}; choose from {', '.join(NOTEBOOKS)}")
    print("\n\n".join(key(notebook) for notebook in args.notebooks or NOTEBOOKS))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
