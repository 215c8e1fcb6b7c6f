"""The documentation site (built by MkDocs from mkdocs.yml): its pages, written by hand, and the
generators of its reference pages (docs/generate/), which read the contracts and catalogues."""
