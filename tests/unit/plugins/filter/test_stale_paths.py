"""The stale_paths filter: which managed paths a role must write, from one `find` of the node."""

from __future__ import annotations

import hashlib

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.englab.mlops.plugins.filter.stale_paths import FilterModule

stale_paths = FilterModule().filters()["stale_paths"]

SHA = hashlib.sha1(b"listen 443 ssl;\n", usedforsecurity=False).hexdigest()


def node_file(path, mode="0644", owner="root", group="root", checksum=SHA):
    return {
        "path": path,
        "mode": mode,
        "pw_name": owner,
        "gr_name": group,
        "isdir": False,
        "checksum": checksum,
    }


def node_dir(path, mode="0755", owner="root", group="root"):
    return {"path": path, "mode": mode, "pw_name": owner, "gr_name": group, "isdir": True}


MANAGED = [
    {"path": "/etc/englab", "mode": "0755"},
    {"path": "/etc/englab/site.conf", "mode": "0644", "sha1": SHA},
    {"path": "/etc/englab/secret.env", "mode": "0600", "owner": "mlflow", "group": "mlflow", "sha1": SHA},
    {"path": "/etc/nginx/sites-enabled/default", "absent": True},
    {"path": "/etc/nginx/sites-enabled/englab", "src": "/etc/nginx/sites-available/englab"},
]

CONVERGED = [
    node_dir("/etc/englab"),
    node_file("/etc/englab/site.conf"),
    node_file("/etc/englab/secret.env", mode="0600", owner="mlflow", group="mlflow"),
    node_file("/etc/englab/unmanaged.txt"),
    {
        "path": "/etc/nginx/sites-enabled/englab",
        "islnk": True,
        "lnk_source": "/etc/nginx/sites-available/englab",
    },
]


def test_a_converged_node_has_nothing_stale():
    assert stale_paths(CONVERGED, MANAGED) == []


@pytest.mark.parametrize(
    "drift, expected",
    [
        (lambda n: n.pop(1), ["/etc/englab/site.conf"]),
        (lambda n: n[1].update(checksum="0" * 40), ["/etc/englab/site.conf"]),
        (lambda n: n[2].update(mode="0644"), ["/etc/englab/secret.env"]),
        (lambda n: n[2].update(pw_name="root"), ["/etc/englab/secret.env"]),
        (lambda n: n[2].update(gr_name="root"), ["/etc/englab/secret.env"]),
        (lambda n: n[0].update(mode="0777"), ["/etc/englab"]),
        (lambda n: n.__setitem__(0, node_file("/etc/englab")), ["/etc/englab"]),
        (
            lambda n: n.__setitem__(1, node_dir("/etc/englab/site.conf", mode="0644")),
            ["/etc/englab/site.conf"],
        ),
        (
            lambda n: n.append(node_file("/etc/nginx/sites-enabled/default")),
            ["/etc/nginx/sites-enabled/default"],
        ),
        (
            lambda n: n[4].update(lnk_source="/etc/nginx/sites-available/other"),
            ["/etc/nginx/sites-enabled/englab"],
        ),
        (
            lambda n: n.__setitem__(4, node_file("/etc/nginx/sites-enabled/englab")),
            ["/etc/nginx/sites-enabled/englab"],
        ),
        (lambda n: n.pop(4), ["/etc/nginx/sites-enabled/englab"]),
    ],
    ids=[
        "missing",
        "content",
        "mode",
        "owner",
        "group",
        "dir-mode",
        "file-for-dir",
        "dir-for-file",
        "must-be-absent",
        "link-target",
        "file-for-link",
        "link-missing",
    ],
)
def test_each_kind_of_drift_is_found(drift, expected):
    found = [dict(n) for n in CONVERGED]
    drift(found)
    assert stale_paths(found, MANAGED) == expected


def test_an_empty_node_needs_everything_but_the_absent_paths():
    assert stale_paths([], MANAGED) == [m["path"] for m in MANAGED if not m.get("absent")]


def test_malformed_arguments_raise_ansible_filter_error():
    with pytest.raises(AnsibleFilterError, match="needs a 'path'"):
        stale_paths([], [{"mode": "0644"}])
    with pytest.raises(AnsibleFilterError, match="must be lists"):
        stale_paths({"files": []}, MANAGED)
