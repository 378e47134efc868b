"""englab.mlops.managed_files on the node: what it writes, what it leaves alone, how it fails.

The module's converger runs against a temporary directory as the user running the
tests, with a stand-in for AnsibleModule that runs validate commands for real.
"""

from __future__ import annotations

import grp
import os
import pwd
import shlex
import stat
import subprocess

import pytest
from ansible_collections.englab.mlops.plugins.modules import managed_files as mf

USER = pwd.getpwuid(os.getuid()).pw_name
GROUP = grp.getgrgid(os.getgid()).gr_name


class Module:
    def __init__(self, check_mode=False, diff=False):
        self.check_mode = check_mode
        self._diff = diff

    @staticmethod
    def run_command(command):
        done = subprocess.run(
            shlex.split(command),  # AnsibleModule.run_command splits a string the same way
            capture_output=True,
            text=True,
            check=False,
        )
        return done.returncode, done.stdout, done.stderr


def entry(path, **kwargs):
    base = {
        "path": str(path),
        "state": "file",
        "content": None,
        "src": None,
        "template": None,
        "mode": None,
        "owner": USER,
        "group": GROUP,
        "validate": None,
        "diff": True,
    }
    base.update(kwargs)
    return base


def converge(entries, **kwargs):
    converger = mf.Converger(Module(**kwargs))
    converger.run(entries)
    return converger


def declared(tmp_path):
    return [
        entry(tmp_path / "etc", state="directory", mode="0750"),
        entry(tmp_path / "etc" / "app.conf", content="a = 1\n", mode="0640"),
        entry(tmp_path / "etc" / "secret.env", content="TOKEN=s3cr3t\n", mode="0600", diff=False),
        entry(tmp_path / "etc" / "current", state="link", src="app.conf"),
        entry(tmp_path / "old.conf", state="absent"),
    ]


def test_first_run_writes_everything_with_its_mode_and_a_second_run_nothing(tmp_path):
    (tmp_path / "old.conf").write_text("stale")
    first = converge(declared(tmp_path))
    assert first.changed == [
        str(tmp_path / p) for p in ("etc", "etc/app.conf", "etc/secret.env", "etc/current", "old.conf")
    ]
    assert (tmp_path / "etc" / "app.conf").read_text() == "a = 1\n"
    assert stat.S_IMODE(os.stat(tmp_path / "etc").st_mode) == 0o750
    assert stat.S_IMODE(os.stat(tmp_path / "etc" / "secret.env").st_mode) == 0o600
    assert os.readlink(tmp_path / "etc" / "current") == "app.conf"
    assert not (tmp_path / "old.conf").exists()
    assert converge(declared(tmp_path)).changed == []


def test_drift_in_content_mode_or_link_is_repaired_and_only_that_path_reported(tmp_path):
    converge(declared(tmp_path))
    os.chmod(tmp_path / "etc" / "secret.env", 0o644)
    (tmp_path / "etc" / "app.conf").write_text("a = 2\n")
    os.unlink(tmp_path / "etc" / "current")
    os.symlink("secret.env", tmp_path / "etc" / "current")
    again = converge(declared(tmp_path))
    assert again.changed == [str(tmp_path / "etc" / p) for p in ("app.conf", "secret.env", "current")]
    assert stat.S_IMODE(os.stat(tmp_path / "etc" / "secret.env").st_mode) == 0o600
    assert (tmp_path / "etc" / "app.conf").read_text() == "a = 1\n"
    assert os.readlink(tmp_path / "etc" / "current") == "app.conf"


def test_check_mode_reports_the_changes_and_writes_nothing(tmp_path):
    (tmp_path / "old.conf").write_text("stale")
    check = converge(declared(tmp_path), check_mode=True)
    assert len(check.changed) == 5
    assert sorted(os.listdir(tmp_path)) == ["old.conf"]


def test_a_file_failing_validation_is_not_installed_and_the_old_one_stays(tmp_path):
    target = tmp_path / "nginx.conf"
    target.write_text("good\n")
    with pytest.raises(mf.Problem, match=r"nginx.conf: not installed, the validate command .*grep -q good"):
        converge([entry(target, content="bad\n", validate="grep -q good %s")])
    assert target.read_text() == "good\n"
    assert os.listdir(tmp_path) == ["nginx.conf"], "the temporary file is left behind"
    converge([entry(target, content="good too\n", validate="grep -q good %s")])
    assert target.read_text() == "good too\n"


def test_validate_without_a_placeholder_is_refused(tmp_path):
    with pytest.raises(mf.Problem, match="validate must contain %s"):
        converge([entry(tmp_path / "f", content="x", validate="true")])


def test_diff_shows_changed_content_except_for_files_marked_diff_false(tmp_path):
    converger = converge(declared(tmp_path), diff=True)
    headers = [d["before_header"] for d in converger.diffs]
    assert headers == [str(tmp_path / "etc" / "app.conf")]
    assert "s3cr3t" not in repr(converger.diffs)


def test_a_missing_parent_or_user_is_named(tmp_path):
    with pytest.raises(mf.Problem, match=r"the directory .*/nope does not exist; declare it before"):
        converge([entry(tmp_path / "nope" / "f", content="x")])
    with pytest.raises(mf.Problem, match=r"the owner 'englab-no-such-user' does not exist"):
        converge([entry(tmp_path / "f", content="x", owner="englab-no-such-user")])
    # In check mode the user may come from an earlier task of the same run.
    assert converge(
        [entry(tmp_path / "f", content="x", owner="englab-no-such-user")], check_mode=True
    ).changed


def test_a_bad_mode_names_the_path(tmp_path):
    with pytest.raises(mf.Problem, match=r"/f: mode must be an octal string"):
        converge([entry(tmp_path / "f", content="x", mode="rw-r--r--")])


def test_a_directory_where_a_file_is_declared_is_not_clobbered(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "keep").write_text("data")
    with pytest.raises(mf.Problem, match="is a directory, not a file"):
        converge([entry(tmp_path / "d", content="x")])
    assert (tmp_path / "d" / "keep").read_text() == "data"


def test_a_directory_gets_its_missing_parents_like_mkdir_p(tmp_path):
    nested = tmp_path / "a" / "b" / "c"
    assert converge([entry(nested, state="directory", mode="0750")]).changed == [str(nested)]
    assert stat.S_IMODE(os.stat(nested).st_mode) == 0o750
