"""Shipped persona YAML files; a user directory loaded after this one overrides them by name."""

from pathlib import Path

SHIPPED_DIR = Path(__file__).parent
