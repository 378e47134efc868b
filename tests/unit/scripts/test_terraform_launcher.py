"""Selection logic of scripts/terraform (pure functions, no Terraform runs)."""

from __future__ import annotations

import importlib.machinery
import importlib.util
import os
from pathlib import Path

import pytest

LAUNCHER = Path(__file__).resolve().parents[3] / "scripts" / "terraform"


def _load():
    loader = importlib.machinery.SourceFileLoader("englab_terraform_launcher", str(LAUNCHER))
    spec = importlib.util.spec_from_loader(loader.name, loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


launcher = _load()


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "auto"),
        ({"ENGLAB_TERRAFORM_BACKEND": ""}, "auto"),
        ({"ENGLAB_TERRAFORM_BACKEND": "lib"}, "lib"),
        ({"ENGLAB_TERRAFORM_BACKEND": " Binary "}, "binary"),
        ({"ENGLAB_TERRAFORM_BACKEND": "auto"}, "auto"),
    ],
)
def test_requested_backend(env, expected):
    assert launcher.requested_backend(env) == expected


def test_requested_backend_rejects_unknown_value():
    with pytest.raises(launcher.LauncherError, match="ENGLAB_TERRAFORM_BACKEND='docker'"):
        launcher.requested_backend({"ENGLAB_TERRAFORM_BACKEND": "docker"})


def _fake_fs(executables: dict[str, str]):
    """realpath/is_executable over a fake tree: path -> realpath of each executable."""
    return (lambda p: executables.get(p, p)), (lambda p: p in executables)


def test_find_real_terraform_skips_itself_by_realpath():
    realpath, is_exec = _fake_fs(
        {
            "/venv/bin/terraform": "/repo/scripts/terraform",
            "/usr/local/bin/terraform": "/usr/local/bin/terraform",
        }
    )
    found = launcher.find_real_terraform(
        os.pathsep.join(["/venv/bin", "/usr/local/bin"]),
        ["/venv/bin/terraform", "/repo/scripts/terraform"],
        realpath=realpath,
        is_executable=is_exec,
    )
    assert found == "/usr/local/bin/terraform"


def test_find_real_terraform_skips_other_links_to_the_launcher():
    realpath, is_exec = _fake_fs(
        {
            "/venv/bin/terraform": "/repo/scripts/terraform",
            "/other/bin/terraform": "/repo/scripts/terraform",
        }
    )
    found = launcher.find_real_terraform(
        "/venv/bin::/other/bin:/empty",
        ["/repo/scripts/terraform"],
        realpath=realpath,
        is_executable=is_exec,
    )
    assert found is None


def test_find_real_terraform_takes_the_first_on_path():
    realpath, is_exec = _fake_fs({"/a/terraform": "/a/terraform", "/b/terraform": "/b/terraform"})
    assert (
        launcher.find_real_terraform("/a:/b", [], realpath=realpath, is_executable=is_exec) == "/a/terraform"
    )


@pytest.mark.parametrize(
    ("backend", "real", "expected"),
    [
        ("auto", "/usr/bin/terraform", ("binary", "/usr/bin/terraform")),
        ("auto", None, ("lib", None)),
        ("lib", "/usr/bin/terraform", ("lib", None)),
        ("lib", None, ("lib", None)),
        ("binary", "/usr/bin/terraform", ("binary", "/usr/bin/terraform")),
    ],
)
def test_choose(backend, real, expected):
    assert launcher.choose(backend, real) == expected


def test_choose_binary_without_one_is_an_error():
    with pytest.raises(launcher.LauncherError, match="no terraform other than this launcher"):
        launcher.choose("binary", None)


def test_lib_env_overrides_replaces_a_missing_cli_config(tmp_path):
    missing = tmp_path / "nope.rc"
    assert launcher.lib_env_overrides({"TF_CLI_CONFIG_FILE": str(missing)}, "/own/rc") == {
        "TF_CLI_CONFIG_FILE": "/own/rc"
    }


def test_lib_env_overrides_keeps_an_existing_or_unset_cli_config(tmp_path):
    existing = tmp_path / "terraformrc"
    existing.write_text("")
    assert launcher.lib_env_overrides({"TF_CLI_CONFIG_FILE": str(existing)}, "/own/rc") == {}
    assert launcher.lib_env_overrides({}, "/own/rc") == {}


def test_venv_pythons_prefers_the_interpreter_beside_the_link():
    candidates = launcher.venv_pythons("/x/.venv/bin/terraform", str(LAUNCHER))
    assert candidates[0] == "/x/.venv/bin/python3"
    assert os.path.normpath(candidates[1]) == str(LAUNCHER.parents[1] / ".venv" / "bin" / "python3")
