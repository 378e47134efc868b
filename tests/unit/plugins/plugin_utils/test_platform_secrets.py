"""The catalogue and the controller store of englab.mlops.platform_secret (plugins/plugin_utils/platform_secrets.py)."""

from __future__ import annotations

import multiprocessing
import os
import stat
import string
from pathlib import Path

import pytest
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import lookup_loader
from ansible.plugins.lookup.password import _gen_candidate_chars
from ansible.template import Templar
from ansible_collections.englab.mlops.plugins.plugin_utils import platform_secrets as ps

REPO = Path(__file__).resolve().parents[4]

# What the roles generated with ansible.builtin.password before the owner existed (length,
# chars=...): an existing platform's files were made with these, and new ones must match.
ROLE_GENERATORS = {
    "db_password": (32, ["ascii_letters", "digits", "@:/%#?"]),
    "tracking_admin": (32, ["ascii_letters", "digits"]),
    "tracking_flask_secret_key": (64, ["ascii_letters", "digits"]),
    "tracking_user/training": (32, ["ascii_letters", "digits"]),
    "repository_user/englab": (32, ["ascii_letters", "digits"]),
}


@pytest.mark.parametrize("name", sorted(ROLE_GENERATORS))
def test_generators_are_the_ones_the_roles_used(name):
    length, chars = ROLE_GENERATORS[name]
    secret = ps.parse_name(name)
    assert (secret.entry.length, secret.entry.chars) == (length, _gen_candidate_chars(chars))
    value = secret.generate()
    assert len(value) == length and set(value) <= set(_gen_candidate_chars(chars))


def test_every_catalogue_kind_is_pinned_above():
    assert {name.split("/")[0] for name in ROLE_GENERATORS} == set(ps.CATALOGUE)


@pytest.mark.parametrize(
    ("name", "filename", "secret_id", "readers"),
    [
        ("db_password", "db_password", "englab-db-password", ("tracking", "database")),
        ("tracking_admin", "tracking_admin", "englab-tracking-admin", ("tracking",)),
        (
            "tracking_flask_secret_key",
            "tracking_flask_secret_key",
            "englab-tracking-flask-secret-key",
            ("tracking",),
        ),
        (
            "tracking_user/training",
            "tracking_user_training",
            "englab-tracking-user-training",
            ("training", "tracking"),
        ),
        (
            "tracking_user/serving",
            "tracking_user_serving",
            "englab-tracking-user-serving",
            ("tracking", "serving"),
        ),
        (
            "tracking_user/ci.bot@x",
            "tracking_user_ci.bot@x",
            "englab-tracking-user-ci_2ebot_40x",
            ("tracking",),
        ),
        ("tracking_user/a_b", "tracking_user_a_b", "englab-tracking-user-a_5fb", ("tracking",)),
        (
            "repository_user/englab",
            "repository_user_englab",
            "englab-repository-user-englab",
            ("serving", "repository"),
        ),
    ],
)
def test_names_map_to_todays_files_a_secret_id_and_readers(name, filename, secret_id, readers):
    secret = ps.parse_name(name)
    assert secret.name == name
    assert secret.filename == filename
    assert secret.secret_id() == secret_id
    assert secret.secret_id("t1-") == "t1-" + secret_id
    assert secret.readers() == readers


def test_db_password_secret_id_is_terraforms():
    assert 'secret_id = "${var.prefix}englab-db-password"' in (REPO / "terraform" / "sql.tf").read_text()


def test_service_accounts_are_named_as_terraform_names_them():
    assert (
        'account_id   = "${var.prefix}${each.value.group}-sa"' in (REPO / "terraform" / "iam.tf").read_text()
    )
    assert ps.service_account_email("serving", "t1-", "proj") == "t1-serving-sa@proj.iam.gserviceaccount.com"


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("tracking_users/training", "unknown platform secret 'tracking_users/training'; known: db_password, "
         "repository_user/<name>, tracking_admin, tracking_flask_secret_key, tracking_user/<name>"),
        ("tracking_user", "unknown platform secret 'tracking_user'; known: db_password"),
        ("tracking_admin/x", "unknown platform secret 'tracking_admin/x'; known:"),
        ("platform_ca_key", "unknown platform secret 'platform_ca_key'; known:"),
        ("tracking_user/", "the account name after 'tracking_user/' must match"),
        ("tracking_user/../../etc", "got '../../etc'"),
    ],
)  # fmt: skip
def test_unknown_or_malformed_names_are_refused_with_the_known_ones(name, message):
    with pytest.raises(ps.SecretError, match=None) as refused:
        ps.parse_name(name)
    assert message in str(refused.value)


@pytest.mark.parametrize(
    ("store", "target", "expected"),
    [(None, "local", "controller"), ("", "gcp", "gcp_secret_manager"), ("controller", "gcp", "controller"),
     ("gcp_secret_manager", "local", "gcp_secret_manager")],
)  # fmt: skip
def test_store_defaults_to_the_targets(store, target, expected):
    assert ps.resolve_store(store, target) == expected


def test_bad_store_and_target_are_refused_naming_the_variable():
    with pytest.raises(
        ps.SecretError,
        match=r"mlops_secrets_store must be one of controller, gcp_secret_manager, got 'vault'",
    ):
        ps.resolve_store("vault", "local")
    with pytest.raises(ps.SecretError, match=r"mlops_target must be one of local, gcp, got 'aws'"):
        ps.resolve_store("", "aws")


def test_controller_store_generates_once_0600_in_a_0700_directory(tmp_path):
    secrets_dir = tmp_path / "englab"
    secret = ps.parse_name("tracking_user/training")
    value, created = ps.controller_secret(str(secrets_dir), secret)
    path = secrets_dir / "tracking_user_training"
    assert created and len(value) == 32
    assert path.read_text() == value + "\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(secrets_dir.stat().st_mode) == 0o700
    assert ps.controller_secret(str(secrets_dir), secret) == (value, False)
    # No temporary file is left behind.
    assert sorted(os.listdir(secrets_dir)) == ["tracking_user_training"]


def test_controller_store_reads_what_ansible_builtin_password_wrote(tmp_path):
    """An existing platform's files (made by ansible.builtin.password) are read as they are, never rewritten."""
    loader = DataLoader()
    password = lookup_loader.get("ansible.builtin.password", loader=loader, templar=Templar(loader=loader))
    path = tmp_path / "db_password"
    [written] = password.run([f"{path} length=32 chars=ascii_letters,digits"], variables={})
    before = path.stat().st_mtime_ns
    assert ps.controller_secret(str(tmp_path), ps.parse_name("db_password")) == (written, False)
    assert path.stat().st_mtime_ns == before
    path.write_text("s3cretvalue1234 salt=abcdefgh\n")
    assert ps.controller_secret(str(tmp_path), ps.parse_name("db_password")) == ("s3cretvalue1234", False)


def _race(args):
    secrets_dir, barrier = args
    barrier.wait()
    return ps.controller_secret(secrets_dir, ps.parse_name("tracking_admin"))


def test_concurrent_forks_get_one_value(tmp_path):
    """Ansible's forks evaluate the same lookup at once: one value wins, every fork gets it."""
    context = multiprocessing.get_context("fork")
    with context.Manager() as manager:
        barrier = manager.Barrier(8)
        with context.Pool(8) as pool:
            results = pool.map(_race, [(str(tmp_path), barrier)] * 8)
    assert len({value for value, _unused in results}) == 1
    assert [created for _unused, created in results].count(True) == 1
    assert sorted(os.listdir(tmp_path)) == ["tracking_admin"]


def test_controller_store_needs_a_directory():
    with pytest.raises(
        ps.SecretError, match="mlops_secrets_dir must name the controller's secrets directory, got ''"
    ):
        ps.controller_secret("", ps.parse_name("tracking_admin"))


def test_unwritable_directory_is_a_message_not_a_traceback(tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("")
    with pytest.raises(
        ps.SecretError, match=r"cannot read platform secret 'tracking_admin' from .*: Not a directory"
    ):
        ps.controller_secret(str(blocked / "englab"), ps.parse_name("tracking_admin"))


def test_a_directory_it_cannot_write_is_a_message(tmp_path, monkeypatch):
    def refuse(**_kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(ps.tempfile, "mkstemp", refuse)
    with pytest.raises(
        ps.SecretError, match=r"cannot create platform secret 'tracking_admin' in .*: Permission denied$"
    ):
        ps.controller_secret(str(tmp_path), ps.parse_name("tracking_admin"))


def test_a_secret_file_that_is_not_text_is_not_quoted(tmp_path):
    (tmp_path / "tracking_admin").write_bytes(b"\xffsecret-bytes")
    with pytest.raises(ps.SecretError) as refused:
        ps.controller_secret(str(tmp_path), ps.parse_name("tracking_admin"))
    assert "not UTF-8 text" in str(refused.value) and "secret-bytes" not in str(refused.value)


def test_alphabet_constants():
    assert string.ascii_letters + string.digits == ps.ALNUM
