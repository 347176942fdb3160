"""The publication's build pipeline: data/ (Frictionless Data Package) -> validation -> SQLite for Datasette."""
