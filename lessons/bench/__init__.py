"""The benchmark behind the README's table: `python -m lessons.bench [--json]`."""
