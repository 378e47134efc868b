"""Issue 22: after `make demo`, the later commands of the docs work as written, in a new shell.

A new shell knows nothing the Makefile exported (ANSIBLE_COLLECTIONS_PATH, ANSIBLE_CONFIG): it has
the clone, its activated .venv and the clone's ansible.cfg. Each `ansible-playbook englab.mlops.*`
command of docs/quickstart.md's "Later runs" block and of README.md runs there with
--syntax-check added: the playbook must be found, in the collection the checkout installed
(.cache/collections), with an empty HOME so no collection of the user's own stands in.
"""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path

import pytest
from conftest import REPO

QUICKSTART = REPO / "docs" / "quickstart.md"
CHECKOUT_PLAYBOOKS = (
    REPO / ".cache" / "collections" / "ansible_collections" / "englab" / "mlops" / "playbooks"
)


def later_commands() -> list[str]:
    text = QUICKSTART.read_text()
    block = text[text.index("Later runs") :]
    block = block[block.index("```sh") + len("```sh") : block.index("```", block.index("```sh") + 5)]
    commands = [line.split("#", 1)[0].strip() for line in block.splitlines()]
    readme = re.findall(r"`(ansible-playbook englab\.mlops\.[^`]+)`", (REPO / "README.md").read_text())
    found = [c for c in commands if c.startswith("ansible-playbook")] + readme
    assert ". .venv/bin/activate" in block, "the block no longer starts the way a new shell must"
    return sorted(set(found))


@pytest.mark.parametrize("command", later_commands())
def test_a_later_command_finds_its_playbook_in_a_new_shell(command: str, tmp_path: Path) -> None:
    script = f"cd {shlex.quote(str(REPO))} && . .venv/bin/activate && {command} --syntax-check"
    result = subprocess.run(
        ["bash", "-c", script],
        env={"HOME": str(tmp_path), "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    playbook = command.split()[1].removeprefix("englab.mlops.")
    assert f"playbook: {CHECKOUT_PLAYBOOKS / playbook}.yml" in output, output
