"""Make this checkout importable as ansible_collections.englab.mlops for the plugin tests."""

from __future__ import annotations

import sys
from pathlib import Path

# tests/support: helpers shared with the other suites.
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
from support.contract import import_checkout_as_collection

REPO = Path(__file__).resolve().parents[3]
import_checkout_as_collection()
