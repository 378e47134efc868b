"""The gcp_secret_manager store against the real google.cloud code, offline.

google.cloud's GcpSession, its AuthorizedSession (google-auth, signing a real service-account
JWT) and requests all run; only requests' transport (HTTPAdapter.send) is replaced by a recorder
that plays Secret Manager and Google's token endpoint, and records every request.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import lookup_loader
from ansible.template import Templar
from ansible.utils.display import Display
from ansible_collections.englab.mlops.plugins.plugin_utils import platform_secrets as ps
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

PROJECT = "englab-test-123"
TOKEN = "ya29.recorded-access-token"  # noqa: S105 - what the recorded token endpoint hands out
SM = f"https://secretmanager.googleapis.com/v1/projects/{PROJECT}/secrets"
SECRET_PATH = re.compile(rf"^/v1/projects/{PROJECT}/secrets/([A-Za-z0-9_-]+)(.*)$")


@dataclass
class FakeSecretManager:
    """Secret Manager's REST answers for one project, and the requests that reached it."""

    secrets: dict = field(default_factory=dict)  # id -> {"versions": [(state, data)], "policy": {...}}
    requests: list = field(default_factory=list)
    # Called after a request is answered: lets a test play a concurrent writer.
    after: object = None

    def add(self, secret_id, *values, state="ENABLED"):
        self.secrets[secret_id] = {
            "versions": [(state, value) for value in values],
            "policy": {"etag": "BwE="},
        }

    def send(self, adapter, request, **_kwargs):
        self.requests.append(request)
        status, body = self._answer(request)
        response = requests.Response()
        response.status_code = status
        response._content = json.dumps(body).encode()
        response.headers["Content-Type"] = "application/json"
        response.request = request
        response.url = request.url
        if self.after:
            self.after(self, request)
        return response

    def _answer(self, request):  # noqa: PLR0911 - one answer per REST method
        url = urlsplit(request.url)
        if url.netloc == "oauth2.googleapis.com":
            return 200, {"access_token": TOKEN, "expires_in": 3600, "token_type": "Bearer"}
        assert request.headers["Authorization"] == "Bearer " + TOKEN
        body = json.loads(request.body) if request.body else {}
        if request.method == "POST" and url.path == f"/v1/projects/{PROJECT}/secrets":
            secret_id = parse_qs(url.query)["secretId"][0]
            if secret_id in self.secrets:
                return 409, {"error": {"code": 409, "message": f"Secret [{secret_id}] already exists."}}
            self.secrets[secret_id] = {"versions": [], "policy": {"etag": "BwE="}, "created": body}
            return 200, {"name": f"projects/{PROJECT}/secrets/{secret_id}"}
        secret_id, rest = SECRET_PATH.match(url.path).groups()
        secret = self.secrets.get(secret_id)
        if secret is None:
            return 404, {"error": {"code": 404, "message": f"Secret [{secret_id}] not found."}}
        versions = secret["versions"]
        if request.method == "GET" and rest == "/versions":
            enabled_only = parse_qs(url.query).get("filter") == ["state:ENABLED"]
            listed = [
                {"name": f"projects/{PROJECT}/secrets/{secret_id}/versions/{number}", "state": state}
                for number, (state, _unused) in enumerate(versions, start=1)
                if state == "ENABLED" or not enabled_only
            ][::-1]
            return 200, {"versions": listed} if listed else {}
        if request.method == "GET" and rest.startswith("/versions/") and rest.endswith(":access"):
            _state, data = versions[int(rest.split("/")[2].split(":")[0]) - 1]
            payload = base64.b64encode(data.encode()).decode()
            return 200, {
                "name": f"projects/{PROJECT}/secrets/{secret_id}{rest[:-7]}",
                "payload": {"data": payload},
            }
        if request.method == "POST" and rest == ":addVersion":
            versions.append(("ENABLED", base64.b64decode(body["payload"]["data"]).decode()))
            return 200, {"name": f"projects/{PROJECT}/secrets/{secret_id}/versions/{len(versions)}"}
        if request.method == "POST" and rest.startswith("/versions/") and rest.endswith(":disable"):
            number = int(rest.split("/")[2].split(":")[0])
            versions[number - 1] = ("DISABLED", versions[number - 1][1])
            return 200, {
                "name": f"projects/{PROJECT}/secrets/{secret_id}/versions/{number}",
                "state": "DISABLED",
            }
        if request.method == "GET" and rest == ":getIamPolicy":
            return 200, secret["policy"]
        if request.method == "POST" and rest == ":setIamPolicy":
            secret["policy"] = dict(body["policy"], etag="BwF=")
            return 200, secret["policy"]
        raise AssertionError(f"unexpected request {request.method} {request.url}")

    def calls(self):
        """(method, url without query) of every Secret Manager request, in order."""
        return [
            (r.method, r.url.split("?")[0].replace(SM, "SM"))
            for r in self.requests
            if "secretmanager" in r.url
        ]


@pytest.fixture
def key_file(tmp_path):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    path = tmp_path / "controller-sa.json"
    path.write_text(
        json.dumps(
            {
                "type": "service_account",
                "project_id": PROJECT,
                "private_key_id": "0123456789abcdef",
                "private_key": pem.decode(),
                "client_email": f"deployer@{PROJECT}.iam.gserviceaccount.com",
                "client_id": "100000000000000000001",
                "token_uri": "https://oauth2.googleapis.com/token",
            }
        )
    )
    return str(path)


@pytest.fixture
def sm(monkeypatch):
    fake = FakeSecretManager()

    # Patched on the class, the replacement is called unbound: it gets the adapter first.
    def send(adapter, request, **kwargs):
        return fake.send(adapter, request, **kwargs)

    monkeypatch.setattr(requests.adapters.HTTPAdapter, "send", send)
    monkeypatch.setattr(ps.time, "sleep", lambda _seconds: None)
    monkeypatch.setattr(ps, "_READ", {})
    return fake


def store(key_file, target="gcp", prefix="t1-"):
    return ps.GcpSecretStore(
        PROJECT, "europe-west4", name_prefix=prefix, credentials_file=key_file, target=target
    )


def assert_secret_only_in_add_version_body(fake, value):
    encoded = base64.b64encode(value.encode()).decode()
    for request in fake.requests:
        assert value not in request.url and encoded not in request.url
        assert all(value not in v and encoded not in v for v in request.headers.values())
        body = request.body.decode() if isinstance(request.body, bytes) else request.body or ""
        if request.url.endswith(":addVersion"):
            assert json.loads(body) == {"payload": {"data": encoded}}
        else:
            assert value not in body and encoded not in body


def test_absent_secret_is_created_granted_and_given_its_first_version(sm, key_file):
    value, created = store(key_file).secret(ps.parse_name("tracking_user/training"))
    path = "SM/t1-englab-tracking-user-training"
    assert created and len(value) == 32
    assert sm.calls() == [
        ("GET", path + "/versions"),  # latest enabled version? 404: no such secret
        ("POST", "SM"),  # create
        ("GET", path + ":getIamPolicy"),
        ("POST", path + ":setIamPolicy"),
        ("POST", path + ":addVersion"),
        ("GET", path + "/versions"),
        ("GET", path + "/versions/1:access"),
    ]
    create = next(r for r in sm.requests if r.method == "POST" and r.url.startswith(SM + "?"))
    assert parse_qs(urlsplit(create.url).query) == {"secretId": ["t1-englab-tracking-user-training"]}
    assert json.loads(create.body) == {
        "replication": {"userManaged": {"replicas": [{"location": "europe-west4"}]}},
        "labels": {
            "managed-by": "englab-mlops",
            "platform": "englab-mlops",
            "englab-secret": "tracking-user",
        },
    }
    # Only the nodes that use it: the tracking node (creates the account) and the training node.
    set_policy = next(r for r in sm.requests if r.url.endswith(":setIamPolicy"))
    assert json.loads(set_policy.body) == {
        "policy": {
            "bindings": [
                {
                    "role": "roles/secretmanager.secretAccessor",
                    "members": [
                        f"serviceAccount:t1-tracking-sa@{PROJECT}.iam.gserviceaccount.com",
                        f"serviceAccount:t1-training-sa@{PROJECT}.iam.gserviceaccount.com",
                    ],
                }
            ],
            "etag": "BwE=",
        }
    }
    assert sm.secrets["t1-englab-tracking-user-training"]["versions"] == [("ENABLED", value)]
    # The controller's key signed a JWT for Google's token endpoint; Secret Manager saw its token.
    assert [urlsplit(r.url).netloc for r in sm.requests].count("oauth2.googleapis.com") >= 1
    assert_secret_only_in_add_version_body(sm, value)


def test_existing_secret_is_read_at_its_latest_enabled_version_never_written(sm, key_file):
    sm.add("t1-englab-tracking-admin", "first-admin-password", "second-admin-password")
    sm.secrets["t1-englab-tracking-admin"]["versions"].append(("DISABLED", "third-disabled"))
    assert store(key_file).secret(ps.parse_name("tracking_admin")) == ("second-admin-password", False)
    assert sm.calls() == [
        ("GET", "SM/t1-englab-tracking-admin/versions"),
        ("GET", "SM/t1-englab-tracking-admin/versions/2:access"),
    ]
    assert [r for r in sm.requests if r.method != "GET" and "secretmanager" in r.url] == []


def test_a_second_run_reads_the_first_runs_value_and_adds_no_version(sm, key_file):
    first, created = store(key_file).secret(ps.parse_name("tracking_flask_secret_key"))
    ps._READ.clear()  # a new job: nothing kept in this process
    sm.requests.clear()
    second, created_again = store(key_file).secret(ps.parse_name("tracking_flask_secret_key"))
    assert (created, created_again) == (True, False)
    assert first == second and len(first) == 64
    assert len(sm.secrets["t1-englab-tracking-flask-secret-key"]["versions"]) == 1
    assert all(method == "GET" for method, _unused in sm.calls())


def test_a_concurrent_creator_wins_and_its_value_is_read(sm, key_file):
    """Two forks find the secret absent; the other one creates it first: this one adds nothing."""

    def other_fork_creates(fake, request):
        if request.method == "GET" and "/versions" in request.url and not fake.secrets:
            fake.add("t1-englab-tracking-user-serving")
        elif request.method == "POST" and "secretId" in request.url:
            fake.secrets["t1-englab-tracking-user-serving"]["versions"].append(
                ("ENABLED", "the-other-forks-value")
            )

    sm.after = other_fork_creates
    value, created = store(key_file).secret(ps.parse_name("tracking_user/serving"))
    assert (value, created) == ("the-other-forks-value", False)
    assert not any(r.url.endswith((":addVersion", ":setIamPolicy")) for r in sm.requests)


def test_every_version_disabled_is_refused_not_replaced(sm, key_file):
    sm.add("t1-englab-tracking-admin", "old", state="DISABLED")
    with pytest.raises(ps.SecretError, match="has versions but none enabled; enable the one in use"):
        store(key_file).secret(ps.parse_name("tracking_admin"))
    assert not any(r.url.endswith(":addVersion") for r in sm.requests)


def test_a_secret_left_without_a_version_gets_its_first_one(sm, key_file):
    """A run that stopped between create and addVersion: the next run finishes the job, IAM included."""
    sm.add("t1-englab-tracking-user-training")
    value, created = store(key_file).secret(ps.parse_name("tracking_user/training"))
    assert created and sm.secrets["t1-englab-tracking-user-training"]["versions"] == [("ENABLED", value)]
    assert any(r.url.endswith(":setIamPolicy") for r in sm.requests)


def test_terraforms_database_password_is_read_never_created(sm, key_file):
    secret = ps.parse_name("db_password")
    with pytest.raises(
        ps.SecretError, match=r"t1-englab-db-password .* which Terraform writes .* does not exist"
    ):
        store(key_file).secret(secret)
    assert [method for method, _unused in sm.calls()] == ["GET"]
    sm.add("t1-englab-db-password", "cloud-sql-password")
    assert store(key_file).secret(secret) == ("cloud-sql-password", False)


def test_on_the_local_target_no_node_identity_is_granted(sm, key_file):
    value, created = store(key_file, target="local", prefix="").secret(
        ps.parse_name("repository_user/englab")
    )
    assert created
    assert not any("IamPolicy" in r.url for r in sm.requests)
    assert sm.secrets["englab-repository-user-englab"]["versions"] == [("ENABLED", value)]


def test_an_existing_policy_keeps_its_other_bindings(sm, key_file):
    sm.add("t1-englab-tracking-admin")
    sm.secrets["t1-englab-tracking-admin"]["policy"] = {
        "etag": "BwX=",
        "bindings": [{"role": "roles/secretmanager.admin", "members": ["group:ops@example.com"]}],
    }
    store(key_file).secret(ps.parse_name("tracking_admin"))
    body = json.loads(next(r for r in sm.requests if r.url.endswith(":setIamPolicy")).body)
    assert body == {
        "policy": {
            "bindings": [
                {"role": "roles/secretmanager.admin", "members": ["group:ops@example.com"]},
                {
                    "role": "roles/secretmanager.secretAccessor",
                    "members": [f"serviceAccount:t1-tracking-sa@{PROJECT}.iam.gserviceaccount.com"],
                },
            ],
            "etag": "BwX=",
        }
    }


def test_google_errors_are_messages_without_the_value(sm, key_file, monkeypatch):
    def forbidden(self, adapter, request, **kwargs):
        response = FakeSecretManager.send(self, adapter, request, **kwargs)
        if request.url.endswith(":addVersion"):
            response.status_code = 403
            response._content = json.dumps(
                {"error": {"code": 403, "message": "Permission denied on secret"}}
            ).encode()
        return response

    monkeypatch.setattr(
        requests.adapters.HTTPAdapter,
        "send",
        lambda adapter, request, **kw: forbidden(sm, adapter, request, **kw),
    )
    with pytest.raises(ps.SecretError) as refused:
        store(key_file).secret(ps.parse_name("tracking_admin"))
    added = sm.secrets["t1-englab-tracking-admin"]["versions"][0][1]
    assert str(refused.value) == (
        f"Secret Manager answered HTTP 403 to POST {SM}/t1-englab-tracking-admin:addVersion: Permission denied on secret"
    )
    assert added not in str(refused.value)


@pytest.mark.parametrize(
    ("project", "region", "message"),
    [("", "r", "needs mlops_gcp_project"), ("p", "", "needs mlops_gcp_region")],
)
def test_store_needs_a_project_and_region(project, region, message):
    with pytest.raises(ps.SecretError, match=message):
        ps.GcpSecretStore(project, region)


def test_through_the_lookup_no_value_reaches_any_output(sm, key_file, capfd, monkeypatch):
    """The lookup on gcp at -vvvvv: google.cloud's own lookup would print the payload at -vvv; this one prints nothing."""
    monkeypatch.setattr(Display(), "verbosity", 5)
    variables = {
        "mlops_target": "gcp",
        "mlops_name_prefix": "t1-",
        "mlops_gcp_project": PROJECT,
        "provision_gcp_credentials_file": key_file,
    }
    loader = DataLoader()
    lookup = lookup_loader.get(
        "englab.mlops.platform_secret", loader=loader, templar=Templar(loader=loader, variables=variables)
    )
    [value] = lookup.run(["tracking_user/serving"], variables=variables)
    assert sm.secrets["t1-englab-tracking-user-serving"]["versions"] == [("ENABLED", value)]
    out, err = capfd.readouterr()
    encoded = base64.b64encode(value.encode()).decode()
    assert value not in out + err and encoded not in out + err
    assert_secret_only_in_add_version_body(sm, value)
    # The default region of the lookup is the provision role's.
    create = next(r for r in sm.requests if "secretId=" in r.url)
    assert json.loads(create.body)["replication"]["userManaged"]["replicas"] == [{"location": "europe-west1"}]


def test_a_platform_made_before_keeps_its_controller_secrets(sm, key_file, tmp_path):
    """The first gcp_secret_manager run of an existing gcp platform moves the file's value, it makes none."""
    (tmp_path / "tracking_admin").write_text("the-admin-password-in-force\n")
    gcp = ps.GcpSecretStore(
        PROJECT, "europe-west4", name_prefix="t1-", credentials_file=key_file, seed_dir=str(tmp_path)
    )
    assert gcp.secret(ps.parse_name("tracking_admin")) == ("the-admin-password-in-force", True)
    assert sm.secrets["t1-englab-tracking-admin"]["versions"] == [("ENABLED", "the-admin-password-in-force")]
    # No file for this one: a new value, and the controller directory is left as it was.
    value, created = gcp.secret(ps.parse_name("tracking_flask_secret_key"))
    assert created and len(value) == 64
    assert sorted(p.name for p in tmp_path.iterdir()) == ["controller-sa.json", "tracking_admin"]


# --- rotation (issue 17) ------------------------------------------------------------------------


def test_rotation_adds_a_version_keeps_the_replaced_one_and_disables_older_ones(sm, key_file):
    sm.add("t1-englab-tracking-user-serving", "v1", "v2")
    gcp = store(key_file)
    secret = ps.parse_name("tracking_user/serving")
    assert gcp.secret(secret) == ("v2", False)
    rotated = gcp.rotate(secret)
    assert len(rotated) == 32 and rotated not in ("v1", "v2")
    assert sm.secrets["t1-englab-tracking-user-serving"]["versions"] == [
        ("DISABLED", "v1"),
        ("ENABLED", "v2"),
        ("ENABLED", rotated),
    ]
    # this process and the next job read the new value; the replaced one is the previous value
    assert gcp.secret(secret) == (rotated, False)
    ps._READ.clear()
    assert store(key_file).secret(secret) == (rotated, False)
    assert store(key_file).previous(secret) == "v2"
    assert_secret_only_in_add_version_body(sm, rotated)


def test_previous_is_empty_for_a_secret_never_rotated(sm, key_file):
    sm.add("t1-englab-tracking-admin", "only")
    assert store(key_file).previous(ps.parse_name("tracking_admin")) == ""
    assert store(key_file).previous(ps.parse_name("tracking_flask_secret_key")) == ""
    assert "t1-englab-tracking-flask-secret-key" not in sm.secrets  # previous() creates nothing


def test_rotating_a_secret_that_does_not_exist_creates_it_once(sm, key_file):
    value = store(key_file).rotate(ps.parse_name("repository_user/englab"))
    assert sm.secrets["t1-englab-repository-user-englab"]["versions"] == [("ENABLED", value)]


def test_terraforms_database_password_is_never_rotated_here(sm, key_file):
    sm.add("t1-englab-db-password", "cloud-sql-password")
    with pytest.raises(ps.SecretError, match="Raise provision_gcp_db_password_version by one instead"):
        store(key_file).rotate(ps.parse_name("db_password"))
    assert sm.requests == []
