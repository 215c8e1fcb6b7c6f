"""`schema` and `db` are also names of unrelated PyPI packages: ours must be the ones imported."""

from pathlib import Path

import api
import db
import schema

ROOT = Path(__file__).resolve().parent.parent


def test_our_packages_are_the_ones_imported() -> None:
    for module in (api, db, schema):
        assert module.__file__ is not None
        assert Path(module.__file__).resolve().parent.parent == ROOT, module.__file__
