"""Correlation rules shipped as data (`default.toml`)."""
