"""Rotation in the controller store, the refusals of mlops_rotate, and where a secret is kept (issue 17)."""

from __future__ import annotations

import os
import stat
import threading

import pytest
from ansible_collections.englab.mlops.plugins.filter.rotation_problem import FilterModule as RotationFilter
from ansible_collections.englab.mlops.plugins.plugin_utils import platform_secrets as ps

KNOWN = "db_password, repository_user/<name>, tracking_admin, tracking_flask_secret_key, tracking_user/<name>"


@pytest.mark.parametrize("name", ["tracking_user/serving", "repository_user/englab", "tracking_admin"])
@pytest.mark.parametrize("target", ["local", "gcp"])
def test_the_platforms_secrets_can_be_rotated(name, target):
    assert ps.rotation_problem(name, target) is None


def test_db_password_is_rotated_on_the_local_target_only():
    assert ps.rotation_problem("db_password", "local") is None
    assert ps.rotation_problem("db_password", "gcp") == (
        "mlops_rotate cannot be 'db_password' on the gcp target: the Cloud SQL password is Terraform's "
        "(terraform/sql.tf). Raise provision_gcp_db_password_version by one instead; one run writes the new "
        "password to Cloud SQL and Secret Manager. Nothing was changed."
    )


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("tracking_users/serving", f"unknown platform secret 'tracking_users/serving'; known: {KNOWN}"),
        ("tracking_user", f"unknown platform secret 'tracking_user'; known: {KNOWN}"),
        ("tracking_admin/x", f"unknown platform secret 'tracking_admin/x'; known: {KNOWN}"),
        ("tracking_user/a b", "the account name after 'tracking_user/' must match"),
    ],
)
def test_unknown_names_are_refused_with_the_known_ones(name, message):
    problem = ps.rotation_problem(name, "local")
    assert problem.startswith("mlops_rotate must name one platform secret: ")
    assert message in problem and problem.endswith("Nothing was changed.")


def test_the_filter_answers_an_empty_string_when_fine():
    rotation_problem = RotationFilter().filters()["rotation_problem"]
    assert rotation_problem("tracking_admin", "gcp") == ""
    assert rotation_problem("db_password", "gcp").startswith("mlops_rotate cannot be 'db_password'")


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


def test_rotation_replaces_the_value_and_keeps_the_previous_one_private(tmp_path):
    secrets_dir = tmp_path / "secrets"
    secret = ps.parse_name("tracking_user/serving")
    first, created = ps.controller_secret(str(secrets_dir), secret)
    assert created and ps.controller_previous(str(secrets_dir), secret) == ""
    rotated = ps.rotate_controller_secret(str(secrets_dir), secret)
    assert rotated != first and len(rotated) == 32 and set(rotated) <= set(ps.ALNUM)
    # every later reader (another fork, the next run) reads the new value; nothing regenerates it
    assert ps.controller_secret(str(secrets_dir), secret) == (rotated, False)
    assert ps.controller_previous(str(secrets_dir), secret) == first
    assert mode(secrets_dir / "tracking_user_serving") == 0o600
    assert mode(secrets_dir / "tracking_user_serving.previous") == 0o600
    # no temporary file left behind, only the lock beside the two files
    assert sorted(p.name for p in secrets_dir.iterdir()) == [
        ".tracking_user_serving.lock",
        "tracking_user_serving",
        "tracking_user_serving.previous",
    ]
    again = ps.rotate_controller_secret(str(secrets_dir), secret)
    assert ps.controller_previous(str(secrets_dir), secret) == rotated != again


def test_rotating_a_secret_never_made_makes_it(tmp_path):
    secret = ps.parse_name("repository_user/englab")
    value = ps.rotate_controller_secret(str(tmp_path / "new"), secret)
    assert ps.controller_secret(str(tmp_path / "new"), secret) == (value, False)
    assert ps.controller_previous(str(tmp_path / "new"), secret) == ""
    assert mode(tmp_path / "new") == 0o700


def test_a_reader_during_rotations_sees_a_whole_value(tmp_path):
    """The replace is one rename: a fork reading meanwhile gets the old or the new value, never a torn one."""
    secret = ps.parse_name("tracking_admin")
    initial, _created = ps.controller_secret(str(tmp_path), secret)
    seen, stop = set(), threading.Event()

    def read():
        while not stop.is_set():
            seen.add(ps.controller_secret(str(tmp_path), secret)[0])

    reader = threading.Thread(target=read)
    reader.start()
    written = {ps.rotate_controller_secret(str(tmp_path), secret) for _unused in range(30)}
    stop.set()
    reader.join()
    assert seen and seen <= written | {initial}


def test_a_rotation_that_cannot_write_says_where_without_a_traceback(tmp_path):
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("")
    with pytest.raises(ps.SecretError, match=r"^cannot rotate platform secret 'tracking_admin' in .*/file: "):
        ps.rotate_controller_secret(str(not_a_dir), ps.parse_name("tracking_admin"))


@pytest.mark.parametrize(
    ("name", "store", "expected"),
    [
        ("db_password", "controller", "the controller file /s/db_password"),
        ("tracking_user/serving", "controller", "the controller file /s/tracking_user_serving"),
        (
            "tracking_admin",
            "gcp_secret_manager",
            "Secret Manager secret t1-englab-tracking-admin of project p",
        ),
        ("db_password", "gcp_secret_manager", "Secret Manager secret t1-englab-db-password of project p"),
    ],
)
def test_location_names_the_file_or_the_secret_id(name, store, expected):
    assert ps.location(ps.parse_name(name), store, "/s", "p", "t1-") == expected
