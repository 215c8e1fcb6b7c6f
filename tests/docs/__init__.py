"""The documentation site: its generated references are current, it builds strictly and offline, and its examples run."""
