"""What a plain (not editable) install ships: every package of the tree, its templates and migrations."""

from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_package_folder_is_listed_for_the_install() -> None:
    """An editable install finds every folder by itself; `pip install .` ships only the listed
    ones (a package missing here crashed the Quickstart's `newsletter run` while every test passed)."""
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    on_disk = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "newsletter").rglob("__init__.py")}
    assert on_disk - listed == set()
    assert listed - on_disk == {"newsletter.templates"}  # shipped from templates/ (package-dir)
