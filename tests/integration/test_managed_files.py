"""englab.mlops.managed_files through ansible-playbook: the action renders on the controller,
one module run converges, and a second run, check mode and diff mode behave as users expect.

The playbook writes only into the test's temporary directory, as the user running it.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path

from conftest import FIXTURES, recap

PLAYBOOK = FIXTURES / "playbooks" / "managed_files" / "managed_files.yml"


def changed_paths(output: str) -> list[str]:
    listed = re.search(r"changed_paths=([^;]*);", output).group(1)
    return listed.split(",") if listed else []


def test_declared_files_converge_in_one_task_and_a_second_run_changes_nothing(
    playbook, tmp_path: Path
) -> None:
    (tmp_path / "old.conf").write_text("stale\n")
    first = playbook(PLAYBOOK, {"managed_dir": str(tmp_path)})
    assert first.rc == 0, first.output
    assert changed_paths(first.stdout) == [
        str(tmp_path / p)
        for p in ("etc", "etc/app.conf", "etc/secret.env", "helper.sh", "current", "old.conf")
    ]
    app = tmp_path / "etc" / "app.conf"
    # Rendered exactly as ansible.builtin.template renders it (trim_blocks, trailing newline).
    assert app.read_text() == (tmp_path / "reference.conf").read_text()
    assert "item 1\nitem 2\nname = englab\n" in app.read_text()
    assert (tmp_path / "helper.sh").read_text() == "#!/bin/sh\necho helper\n"
    assert stat.S_IMODE(os.stat(tmp_path / "helper.sh").st_mode) == 0o755
    assert stat.S_IMODE(os.stat(tmp_path / "etc" / "secret.env").st_mode) == 0o600
    assert os.readlink(tmp_path / "current") == "etc/app.conf"
    assert not (tmp_path / "old.conf").exists()

    second = playbook(PLAYBOOK, {"managed_dir": str(tmp_path)})
    assert second.rc == 0, second.output
    assert changed_paths(second.stdout) == []
    assert recap(second)["localhost"]["changed"] == 0


def test_check_and_diff_show_the_change_but_never_a_secret_and_write_nothing(
    playbook, tmp_path: Path
) -> None:
    assert playbook(PLAYBOOK, {"managed_dir": str(tmp_path)}).rc == 0
    (tmp_path / "etc" / "app.conf").write_text("drifted\n")
    (tmp_path / "etc" / "secret.env").write_text("TOKEN=old\n")
    check = playbook(PLAYBOOK, {"managed_dir": str(tmp_path)}, "--check", "--diff", "-vvv")
    assert check.rc == 0, check.output
    assert changed_paths(check.stdout) == [
        str(tmp_path / "etc" / "app.conf"),
        str(tmp_path / "etc" / "secret.env"),
    ]
    assert "drifted" in check.stdout and "name = englab" in check.stdout, "the diff of app.conf is missing"
    assert "s3cr3t-token" not in check.output, "a diff-false file's content reached the output"
    assert (tmp_path / "etc" / "app.conf").read_text() == "drifted\n"


def test_a_file_failing_validation_fails_the_task_and_stays_as_it_was(playbook, tmp_path: Path) -> None:
    assert playbook(PLAYBOOK, {"managed_dir": str(tmp_path)}).rc == 0
    before = (tmp_path / "etc" / "app.conf").read_text()
    failing = playbook(
        PLAYBOOK,
        {"managed_dir": str(tmp_path), "managed_name": "other", "managed_validate": "grep -q ^nothing %s"},
    )
    assert failing.rc != 0
    assert "etc/app.conf: not installed, the validate command 'grep -q ^nothing %s' failed" in failing.output
    assert "Traceback" not in failing.output
    assert (tmp_path / "etc" / "app.conf").read_text() == before
    assert sorted(os.listdir(tmp_path / "etc")) == ["app.conf", "secret.env"], (
        "a temporary file was left behind"
    )
