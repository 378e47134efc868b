"""The os_login_user filter: OS Login's user name for a service-account key, read offline."""

from __future__ import annotations

import json

import pytest
from ansible_collections.englab.mlops.plugins.filter.os_login_user import FilterModule
from ansible_collections.englab.mlops.plugins.module_utils.inventory_contract import (
    os_login_user as os_login_user_function,
)

os_login_user = FilterModule().filters()["os_login_user"]


def write_json(path, content):
    path.write_text(json.dumps(content), encoding="utf-8")
    return str(path)


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        pytest.param(
            {
                "type": "service_account",
                "project_id": "proj",
                "private_key": "-----BEGIN PRIVATE KEY-----\n...",
                "client_email": "terraform@proj.iam.gserviceaccount.com",
                "client_id": "104729873216549870123",
            },
            "sa_104729873216549870123",
            id="service-account",
        ),
        pytest.param({"type": "service_account", "client_id": 1047298}, "sa_1047298", id="numeric-id"),
        pytest.param(
            {"type": "authorized_user", "client_id": "764086051850", "refresh_token": "r"},
            "",
            id="authorized-user",
        ),
        pytest.param({"type": "service_account", "client_id": "abc123"}, "", id="non-digit-id"),
        pytest.param({"type": "service_account", "client_id": "\u00b2\u0663"}, "", id="non-ascii-digits"),
        pytest.param({"type": "service_account", "client_id": "-123"}, "", id="negative-id"),
        pytest.param({"type": "service_account", "client_id": "12 34"}, "", id="spaced-id"),
        pytest.param({"type": "service_account", "client_id": ""}, "", id="empty-id"),
        pytest.param({"type": "service_account", "client_id": None}, "", id="null-id"),
        pytest.param({"type": "service_account"}, "", id="no-id"),
        pytest.param({"client_id": "123"}, "", id="no-type"),
        pytest.param(["service_account", "123"], "", id="not-a-mapping"),
    ],
)
def test_key_file_contents(tmp_path, content, expected):
    assert os_login_user(write_json(tmp_path / "key.json", content)) == expected


def test_bad_json_is_not_a_service_account_key(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"type": "service_account", "client_id": "123"', encoding="utf-8")
    assert os_login_user(str(bad)) == ""


def test_non_utf8_file_is_not_a_service_account_key(tmp_path):
    binary = tmp_path / "key.p12"
    binary.write_bytes(b"\x30\x82\xff\xfe\x00")
    assert os_login_user(str(binary)) == ""


@pytest.mark.parametrize("path", ["", None])
def test_empty_path(path):
    assert os_login_user(path) == ""


def test_missing_file_and_directory(tmp_path):
    assert os_login_user(str(tmp_path / "missing.json")) == ""
    assert os_login_user(str(tmp_path)) == ""


def test_home_relative_path_is_expanded(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    write_json(tmp_path / "sa.json", {"type": "service_account", "client_id": "555"})
    assert os_login_user("~/sa.json") == "sa_555"


def test_filter_is_the_module_utils_function(tmp_path):
    assert FilterModule().filters() == {"os_login_user": os_login_user_function}
    key = write_json(tmp_path / "key.json", {"type": "service_account", "client_id": "42"})
    assert os_login_user_function(key) == os_login_user(key) == "sa_42"
