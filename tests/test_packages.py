"""`schema` and `db` are also names of unrelated PyPI packages: ours must be the ones imported,
from the repository and from anywhere else (as the installed console script runs)."""

import subprocess
import sys
from pathlib import Path

import api
import db
import schema

ROOT = Path(__file__).resolve().parent.parent


def test_our_packages_are_the_ones_imported() -> None:
    for module in (api, db, schema):
        assert module.__file__ is not None
        assert Path(module.__file__).resolve().parent.parent == ROOT, module.__file__


def test_our_packages_are_imported_outside_the_checkout_too(tmp_path: Path) -> None:
    code = "import api, db, schema; print(api.__file__, db.__file__, schema.__file__)"
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True)
    files = [Path(f) for f in out.stdout.split()]
    assert [f.parent.parent for f in files] == [ROOT, ROOT, ROOT], out.stdout
