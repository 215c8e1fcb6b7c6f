"""MkDocs hooks (mkdocs.yml): pictures that live beside the code they show are published into the
site from where they are, never copied into docs/, so the site and the README show the same file."""

from __future__ import annotations

from pathlib import Path

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parent.parent
# Site path → file in the repository.
PUBLISHED = {
    "benchmarks/latest.png": "bench/results/latest.png",
}
# Every screenshot the explorer keeps beside its code (api/static/explore/*.png) → assets/explore/.
SCREENSHOTS = "api/static/explore"


def on_files(files: Files, config: MkDocsConfig) -> Files:
    published = dict(PUBLISHED)
    for picture in sorted((ROOT / SCREENSHOTS).glob("*.png")):
        published[f"assets/explore/{picture.name}"] = f"{SCREENSHOTS}/{picture.name}"
    for site_path, source in published.items():
        files.append(File.generated(config, site_path, abs_src_path=str(ROOT / source)))
    return files
