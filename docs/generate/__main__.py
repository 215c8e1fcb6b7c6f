"""``python -m docs.generate`` writes the reference pages; ``--check`` only lists the stale ones."""

from __future__ import annotations

import sys

from docs.generate import stale, write


def main(argv: list[str]) -> int:
    if "--check" in argv:
        found = stale()
        for path in found:
            print(f"stale: docs/{path} (run make docs)")
        return 1 if found else 0
    for path in write():
        print(f"wrote docs/{path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
