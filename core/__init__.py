"""CORE: a configuration-driven data pipeline platform."""

# The single source of the version: pyproject.toml reads it from here (hatch), and so
# does every published dataset's __metadata_app_version.
__version__ = "0.1.0"
