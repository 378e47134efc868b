"""Two checkouts' launchers on PATH must not take each other for the real terraform."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

LAUNCHER = Path(__file__).resolve().parents[3] / "scripts" / "terraform"


def test_two_launchers_on_path_still_reach_terraform(tmp_path: Path):
    first, second = tmp_path / "a", tmp_path / "b"
    first.mkdir()
    second.mkdir()
    (first / "terraform").symlink_to(LAUNCHER)
    shutil.copy(LAUNCHER, second / "terraform")
    python_dir = str(Path(sys.executable).parent)
    env = {
        **os.environ,
        "PATH": os.pathsep.join([str(first), str(second), python_dir, os.environ.get("PATH", "")]),
        "TF_CLI_CONFIG_FILE": str(tmp_path / "terraformrc"),
    }
    (tmp_path / "terraformrc").write_text("")
    out = subprocess.run(
        [str(first / "terraform"), "version"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("Terraform v")
