"""Make this checkout importable as ansible_collections.englab.mlops for the plugin tests."""

from __future__ import annotations

import tempfile
from pathlib import Path

from ansible.utils.collection_loader._collection_finder import _AnsibleCollectionFinder

REPO = Path(__file__).resolve().parents[3]
_root = Path(tempfile.mkdtemp(prefix="englab-unit-"))
(_root / "ansible_collections" / "englab").mkdir(parents=True)
(_root / "ansible_collections" / "englab" / "mlops").symlink_to(REPO)
_AnsibleCollectionFinder(paths=[str(_root)])._install()
