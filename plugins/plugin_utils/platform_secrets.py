# -*- coding: utf-8 -*-
# Copyright (c) englab MLOps engineers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The one owner of every platform secret: its name, how it is made, where it is kept, who reads it.

Roles ask the lookup englab.mlops.platform_secret for a name (``tracking_user/training``), never
for a file path, so the generator and the storage place of a secret are written once, here.
The generators are exactly those the roles used with ansible.builtin.password (same length,
same characters) and the controller store keeps the same file names, so an existing platform
keeps its secrets. Two stores:

- ``controller``: one 0600 file per secret in ``mlops_secrets_dir`` (0700), created atomically.
- ``gcp_secret_manager``: one Secret Manager secret per secret in the platform's project, made
  through the google.cloud collection's own code (its GcpSession and the functions of its
  gcp_secret_manager module): read the latest version when the secret exists, else create it
  (user-managed replication in the platform's region, like terraform/sql.tf), grant the nodes
  that read it secretAccessor on it, and add the first version. Never a second version, except
  when the secret is rotated.

Rotation (``-e mlops_rotate=<name>``, applied by the provision role once per run, before any role
reads the secret): a new value replaces the stored one and the value it replaces stays readable as
the *previous* value, so a role whose account still holds the old password (the tracking admin) can
use it to set the new one. Controller store: ``<file>.previous`` (0600) and an atomic replace under
an flock. Secret Manager: a new version; the version it replaces stays enabled, every older one is
disabled (at most two enabled versions, the latest in use).

No function here prints, logs or puts a secret value into an exception message.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import contextlib
import fcntl
import os
import re
import string
import tempfile
import time
from dataclasses import dataclass

from ansible.utils.encrypt import random_password
from ansible_collections.englab.mlops.plugins.module_utils.inventory_contract import NODE_GROUPS

STORES = ("controller", "gcp_secret_manager")
# Where a platform keeps its secrets when mlops_secrets_store is not set (docs/awx.md says why).
DEFAULT_STORE = {"local": "controller", "gcp": "gcp_secret_manager"}

ALNUM = string.ascii_letters + string.digits
# The database password may hold URL-special characters: the tracking server URL-encodes it.
DB_CHARS = ALNUM + "@:/%#?"
# A tracking or repository account name (tracking_server_users' rule).
_MEMBER = re.compile(r"^[A-Za-z0-9_.@-]+$")
# What a Secret Manager secret id keeps as it is; any other character is escaped.
_SECRET_ID_SAFE = re.compile(r"[A-Za-z0-9-]")
ACCESSOR_ROLE = "roles/secretmanager.secretAccessor"
SCOPES = ["https://www.googleapis.com/auth/cloud-platform"]
LABELS = {"managed-by": "englab-mlops", "platform": "englab-mlops"}
# How long a reader waits for the first version a concurrent writer is adding.
FIRST_VERSION_WAIT = (0.5, 1, 2, 4)
# The controller store keeps the value a rotation replaced in <file><PREVIOUS_SUFFIX>.
PREVIOUS_SUFFIX = ".previous"


# _read_latest's answer for a secret that does not exist (None: it exists without a version).
ABSENT = object()
# Values read or made in this process, by (project, secret id): roles read a secret in several
# templates of one task, and each read would otherwise be several HTTP requests.
_READ = {}


class SecretError(ValueError):
    """A secret cannot be named, read or made; the message never holds its value."""


@dataclass(frozen=True)
class SecretKind:
    """One entry of the catalogue."""

    kind: str
    length: int
    chars: str
    readers: tuple
    description: str
    # The name is <kind>/<member> (an account), not <kind> alone.
    per_member: bool = False
    # The node group named like the member reads it too (tracking_user/training: training).
    member_reads: bool = False
    # On the gcp target the secret is Terraform's (terraform/sql.tf): read, never created here.
    terraform_on_gcp: bool = False


CATALOGUE = {
    entry.kind: entry
    for entry in (
        SecretKind(
            "db_password",
            32,
            DB_CHARS,
            ("database", "tracking"),
            "Password of the MLflow database user (on gcp the Cloud SQL user's, written by Terraform).",
            terraform_on_gcp=True,
        ),
        SecretKind("tracking_admin", 32, ALNUM, ("tracking",), "MLflow's basic-auth admin password."),
        SecretKind(
            "tracking_flask_secret_key", 64, ALNUM, ("tracking",), "Signs the tracking server's sessions."
        ),
        SecretKind(
            "tracking_user",
            32,
            ALNUM,
            ("tracking",),
            "Password of a tracking account; read by the tracking node and the node named like the account.",
            per_member=True,
            member_reads=True,
        ),
        SecretKind(
            "repository_user",
            32,
            ALNUM,
            ("repository", "serving"),
            "Password of a local Docker registry account (local target; gcp uses Artifact Registry IAM).",
            per_member=True,
        ),
    )
}


@dataclass(frozen=True)
class Secret:
    """A named secret of the catalogue: tracking_user/training is (tracking_user, training)."""

    entry: SecretKind
    member: str = ""

    @property
    def name(self):
        return self.entry.kind + ("/" + self.member if self.entry.per_member else "")

    @property
    def filename(self):
        """File name in the controller store, the one ansible.builtin.password used: tracking_user_training."""
        return self.entry.kind + ("_" + self.member if self.entry.per_member else "")

    def secret_id(self, name_prefix=""):
        """Secret Manager id: <prefix>englab-tracking-user-training (db_password: Terraform's englab-db-password)."""
        member = "".join(c if _SECRET_ID_SAFE.match(c) else "_%02x" % ord(c) for c in self.member)
        return "%senglab-%s%s" % (
            name_prefix,
            self.entry.kind.replace("_", "-"),
            "-" + member if member else "",
        )

    def readers(self):
        """Node groups that use the secret, in the platform's order."""
        groups = set(self.entry.readers)
        if self.entry.member_reads and self.member in NODE_GROUPS["local"]:
            groups.add(self.member)
        return tuple(group for group in NODE_GROUPS["local"] if group in groups)

    def generate(self):
        return random_password(length=self.entry.length, chars=self.entry.chars)


def known_names():
    return sorted(entry.kind + ("/<name>" if entry.per_member else "") for entry in CATALOGUE.values())


def parse_name(name):
    """The catalogue entry of a name; an unknown or malformed name is refused with the known ones."""
    if not isinstance(name, str):
        raise SecretError(
            "platform secret names are strings, got %s; known: %s"
            % (type(name).__name__, ", ".join(known_names()))
        )
    kind, slash, member = name.partition("/")
    entry = CATALOGUE.get(kind)
    if entry is None or bool(slash) != entry.per_member:
        raise SecretError("unknown platform secret '%s'; known: %s" % (name, ", ".join(known_names())))
    if entry.per_member and not _MEMBER.match(member):
        raise SecretError(
            "platform secret '%s': the account name after '%s/' must match %s, got '%s'"
            % (name, kind, _MEMBER.pattern, member)
        )
    return Secret(entry, member)


def resolve_store(store, target):
    """The store in force: the one named, else the target's default (DEFAULT_STORE)."""
    if target not in DEFAULT_STORE:
        raise SecretError("mlops_target must be one of %s, got '%s'" % (", ".join(DEFAULT_STORE), target))
    store = store or DEFAULT_STORE[target]
    if store not in STORES:
        raise SecretError("mlops_secrets_store must be one of %s, got '%s'" % (", ".join(STORES), store))
    return store


def service_account_email(group, name_prefix, project):
    """A node's service account, as terraform/iam.tf names it (account_id <prefix><group>-sa)."""
    return "%s%s-sa@%s.iam.gserviceaccount.com" % (name_prefix, group, project)


def location(secret, store, secrets_dir="", project="", name_prefix=""):
    """Where the store keeps a secret, for messages: a controller file or a Secret Manager secret id."""
    if store == "controller":
        return "the controller file %s" % os.path.join(
            os.path.expanduser(secrets_dir or "~"), secret.filename
        )
    return "Secret Manager secret %s of project %s" % (
        secret.secret_id(name_prefix),
        project or "<mlops_gcp_project>",
    )


def rotation_problem(name, target):
    """Why ``-e mlops_rotate=<name>`` cannot be applied on target, or None."""
    if not isinstance(name, str) or not name:
        return "mlops_rotate must name one platform secret (%s), got '%s'. Nothing was changed." % (
            ", ".join(known_names()),
            name,
        )
    try:
        secret = parse_name(name)
    except SecretError as error:
        return "mlops_rotate must name one platform secret: %s. Nothing was changed." % error
    if target == "gcp" and secret.entry.terraform_on_gcp:
        return (
            "mlops_rotate cannot be '%s' on the gcp target: the Cloud SQL password is Terraform's "
            "(terraform/sql.tf). Raise provision_gcp_db_password_version by one instead; one run writes the "
            "new password to Cloud SQL and Secret Manager. Nothing was changed." % name
        )
    return None


# --- controller store -------------------------------------------------------------------------


def _read_file(secret, path):
    """The value of a secret file (ansible.builtin.password's format: the value, maybe ' salt=...')."""
    try:
        with open(path, encoding="utf-8") as handle:
            content = handle.read().rstrip()
    except FileNotFoundError:
        raise
    except OSError as error:
        raise SecretError(
            "cannot read platform secret '%s' from %s: %s" % (secret.name, path, error.strerror)
        ) from None
    except UnicodeDecodeError:
        # The error would quote the file's bytes.
        raise SecretError(
            "cannot read platform secret '%s' from %s: not UTF-8 text" % (secret.name, path)
        ) from None
    value, salted, _salt = content.rpartition(" salt=")
    return value if salted else content


def controller_secret(secrets_dir, secret):
    """(value, created): read <secrets_dir>/<file>, or make it once (0600, atomically; dir 0700).

    The value is written to a private temporary file and linked into place: of two forks making
    the same secret at once, the first link wins and the other reads the winner's value.
    """
    if not isinstance(secrets_dir, str) or not secrets_dir:
        raise SecretError(
            "mlops_secrets_dir must name the controller's secrets directory, got '%s'" % secrets_dir
        )
    path = os.path.join(os.path.expanduser(secrets_dir), secret.filename)
    with contextlib.suppress(FileNotFoundError):
        return _read_file(secret, path), False
    directory = os.path.dirname(path)
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=".%s." % secret.filename, dir=directory)
    except OSError as error:
        raise SecretError(
            "cannot create platform secret '%s' in %s: %s" % (secret.name, directory, error.strerror)
        ) from None
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(secret.generate() + "\n")
            stream.flush()
            os.fsync(stream.fileno())
        try:
            os.link(temporary, path)
            created = True
        except FileExistsError:
            created = False
    finally:
        os.unlink(temporary)
    return _read_file(secret, path), created


@contextlib.contextmanager
def _locked(directory, filename):
    """An exclusive flock on <directory>/.<filename>.lock: one rotation of a secret at a time."""
    descriptor = os.open(os.path.join(directory, ".%s.lock" % filename), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)


def _replace(directory, filename, value):
    """Write value to <directory>/<filename> (0600) in one rename: a reader sees the old or the new file."""
    handle, temporary = tempfile.mkstemp(prefix=".%s." % filename, dir=directory)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(value + "\n")
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, os.path.join(directory, filename))
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def rotate_controller_secret(secrets_dir, secret):
    """A new value for secret in the controller store; the value it replaces becomes <file>.previous."""
    path = os.path.join(os.path.expanduser(secrets_dir or ""), secret.filename)
    directory = os.path.dirname(path)
    if not secrets_dir:
        raise SecretError("mlops_secrets_dir must name the controller's secrets directory, got ''")
    try:
        os.makedirs(directory, mode=0o700, exist_ok=True)
        with _locked(directory, secret.filename):
            try:
                old = _read_file(secret, path)
            except FileNotFoundError:
                old = None
            if old is not None:
                _replace(directory, secret.filename + PREVIOUS_SUFFIX, old)
            value = secret.generate()
            _replace(directory, secret.filename, value)
    except OSError as error:
        raise SecretError(
            "cannot rotate platform secret '%s' in %s: %s" % (secret.name, directory, error.strerror)
        ) from None
    return value


def controller_previous(secrets_dir, secret):
    """The value the last rotation replaced, or "" when the secret was never rotated."""
    path = os.path.join(os.path.expanduser(secrets_dir or ""), secret.filename + PREVIOUS_SUFFIX)
    try:
        return _read_file(secret, path)
    except FileNotFoundError:
        return ""


# --- gcp_secret_manager store -----------------------------------------------------------------


class _GcpModule:
    """What google.cloud's GcpSession and gcp_secret_manager functions expect of an AnsibleModule.

    fail_json raises SecretError with Google's own error message: Secret Manager's errors name
    the resource and the reason, never a payload.
    """

    def __init__(self, params):
        self.params = params

    def fail_json(self, msg, **_kwargs):
        raise SecretError("Secret Manager: %s" % (msg,))

    def raise_for_status(self, response):
        if response.status_code >= 400:
            try:
                reason = response.json().get("error", {}).get("message", "")
            except ValueError:
                reason = ""
            raise SecretError(
                "Secret Manager answered HTTP %s to %s %s%s"
                % (response.status_code, response.request.method, response.request.url.split("?")[0],
                   ": " + reason if reason else "")
            )  # fmt: skip


def _gcp():
    """google.cloud's module code (imported late: the controller store needs no google library)."""
    try:
        from ansible_collections.google.cloud.plugins.modules import gcp_secret_manager  # noqa: PLC0415
    except ImportError as error:
        raise SecretError(
            "the gcp_secret_manager store needs the google.cloud collection (and requests, google-auth): %s"
            % error
        ) from None
    return gcp_secret_manager


class GcpSecretStore:
    """The Secret Manager secrets of one platform (project, region, prefix), with the controller's credentials."""

    def __init__(self, project, region, *, name_prefix="", credentials_file="", target="gcp", seed_dir=""):
        if not project:
            raise SecretError(
                "the gcp_secret_manager store needs mlops_gcp_project (or $GCP_PROJECT, $GCE_PROJECT, "
                "$GOOGLE_CLOUD_PROJECT), got ''"
            )
        if not region:
            raise SecretError("the gcp_secret_manager store needs mlops_gcp_region, got ''")
        self.project = project
        self.region = region
        self.name_prefix = name_prefix
        self.target = target
        # A platform made before this store kept its secrets in the controller directory: a secret
        # Secret Manager does not hold yet starts with that value, so the platform keeps it.
        self.seed_dir = seed_dir
        self._auth = (
            {"auth_kind": "serviceaccount", "service_account_file": credentials_file}
            if credentials_file
            else {"auth_kind": "application"}
        )

    def _module(self, secret_id, **params):
        base = {
            "project": self.project,
            "location": None,
            "name": secret_id,
            "version": "latest",
            "calc_version": "latest",
            "state": "present",
            "labels": {},
            "scopes": SCOPES,
        }
        return _GcpModule(dict(base, **self._auth, **params))

    def _url(self, module, suffix=""):
        return (_gcp().make_url_prefix(module) + "secrets/{name}").format(**module.params) + suffix

    def _read_latest(self, module):
        """The latest enabled version's value, None when there is none, ABSENT when the secret is."""
        gsm = _gcp()
        versions = gsm.list_secret_versions(module)
        if versions is None:
            return ABSENT
        numbers = [version["name"].split("/")[-1] for version in versions.get("versions", [])]
        if not numbers:
            return None
        module.params["calc_version"] = max(numbers, key=int)
        accessed = gsm.return_if_object(module, gsm.get_auth(module).get(gsm.self_access_link(module)), True)
        return None if accessed is None else accessed["value"]

    def _has_any_version(self, module):
        """Whether a version exists in any state (the list above shows enabled ones only)."""
        response = _gcp().get_auth(module).get(self._url(module, "/versions"))
        module.raise_for_status(response)
        return bool(response.json().get("versions"))

    def _create(self, module, secret):
        """Create the secret; False when it exists already (HTTP 409: another run or fork made it)."""
        body = {
            "replication": {"userManaged": {"replicas": [{"location": self.region}]}},
            "labels": dict(LABELS, **{"englab-secret": secret.entry.kind.replace("_", "-")}),
        }
        url = (_gcp().make_url_prefix(module) + "secrets").format(**module.params)
        response = _gcp().get_auth(module).post(url, body=body, params={"secretId": module.params["name"]})
        if response.status_code == 409:
            return False
        module.raise_for_status(response)
        return True

    def _grant_readers(self, module, secret):
        """secretAccessor on this secret for the service account of every node that reads it (gcp target)."""
        if self.target != "gcp":
            return
        members = [
            "serviceAccount:" + service_account_email(group, self.name_prefix, self.project)
            for group in secret.readers()
            if group in NODE_GROUPS["gcp"]
        ]
        if not members:
            return
        auth = _gcp().get_auth(module)
        response = auth.get(self._url(module, ":getIamPolicy"))
        module.raise_for_status(response)
        policy = response.json()
        bindings = [binding for binding in policy.get("bindings", []) if binding.get("role") != ACCESSOR_ROLE]
        current = next(
            (
                binding.get("members", [])
                for binding in policy.get("bindings", [])
                if binding.get("role") == ACCESSOR_ROLE
            ),
            [],
        )
        wanted = sorted(set(current) | set(members))
        if wanted == sorted(current):
            return
        new_policy = {"bindings": [*bindings, {"role": ACCESSOR_ROLE, "members": wanted}]}
        if policy.get("etag"):
            new_policy["etag"] = policy["etag"]
        module.raise_for_status(auth.post(self._url(module, ":setIamPolicy"), body={"policy": new_policy}))

    def _seed(self, secret):
        """The value the controller store holds for this secret, or "" (never created there)."""
        if not self.seed_dir:
            return ""
        try:
            return _read_file(secret, os.path.join(os.path.expanduser(self.seed_dir), secret.filename))
        except FileNotFoundError:
            return ""

    def _add_first_version(self, module, secret):
        self._grant_readers(module, secret)
        module.params["value"] = self._seed(secret) or secret.generate()
        _gcp().update_secret(module)
        # Of two writers that both found no version, the later one's version is the latest: read it.
        module.params["calc_version"] = "latest"
        value = self._read_latest(module)
        if not isinstance(value, str):
            raise SecretError(
                "Secret Manager secret %s of project %s: the version just added cannot be read back"
                % (module.params["name"], self.project)
            )
        return value

    def secret(self, secret):
        """(value, created): the latest version, or a new secret with its first version."""
        secret_id = secret.secret_id(self.name_prefix)
        key = (self.project, secret_id)
        if key in _READ:
            return _READ[key], False
        value, created = self._secret(secret, secret_id)
        _READ[key] = value
        return value, created

    def _enabled_numbers(self, module):
        """Numbers of the enabled versions, newest first ([] when there is none or no secret)."""
        versions = _gcp().list_secret_versions(module) or {}
        return sorted((int(v["name"].split("/")[-1]) for v in versions.get("versions", [])), reverse=True)

    def _access(self, module, number):
        gsm = _gcp()
        module.params["calc_version"] = str(number)
        accessed = gsm.return_if_object(module, gsm.get_auth(module).get(gsm.self_access_link(module)), True)
        return "" if accessed is None else accessed["value"]

    def rotate(self, secret):
        """A new version; the one it replaces stays enabled (previous()), older enabled ones are disabled."""
        if self.target == "gcp" and secret.entry.terraform_on_gcp:
            raise SecretError(rotation_problem(secret.name, self.target))
        secret_id = secret.secret_id(self.name_prefix)
        module = self._module(secret_id)
        if not self._enabled_numbers(module):
            # No value in use yet: the first one is the rotation (created and granted as usual).
            _READ.pop((self.project, secret_id), None)
            return self.secret(secret)[0]
        module.params["value"] = secret.generate()
        _gcp().update_secret(module)
        enabled = self._enabled_numbers(module)
        for number in enabled[2:]:
            module.raise_for_status(
                _gcp().get_auth(module).post(self._url(module, "/versions/%d:disable" % number), body={})
            )
        value = self._access(module, enabled[0])
        _READ[(self.project, secret_id)] = value
        return value

    def previous(self, secret):
        """The value the last rotation replaced (the second newest enabled version), or ""."""
        module = self._module(secret.secret_id(self.name_prefix))
        enabled = self._enabled_numbers(module)
        return self._access(module, enabled[1]) if len(enabled) > 1 else ""

    def _secret(self, secret, secret_id):
        module = self._module(secret_id)
        value = self._read_latest(module)
        if value is not None and value is not ABSENT:
            return value, False
        if self.target == "gcp" and secret.entry.terraform_on_gcp:
            raise SecretError(
                "platform secret '%s' is Secret Manager secret %s of project %s, which Terraform writes "
                "(terraform/sql.tf); it %s: run englab.mlops.provision first"
                % (secret.name, secret_id, self.project,
                   "does not exist" if value is ABSENT else "has no enabled version")
            )  # fmt: skip
        if value is ABSENT and self._create(module, secret):
            return self._add_first_version(module, secret), True
        # The secret exists without an enabled version: every version was disabled on purpose,
        # another writer is adding the first one, or a run stopped between create and add.
        if self._has_any_version(module):
            value = self._read_latest(module)
            if value is None:
                raise SecretError(
                    "Secret Manager secret %s of project %s (platform secret '%s') has versions but none "
                    "enabled; enable the one in use (gcloud secrets versions enable) rather than have a new "
                    "one made" % (secret_id, self.project, secret.name)
                )
            return value, False
        for delay in FIRST_VERSION_WAIT:
            time.sleep(delay)
            value = self._read_latest(module)
            if value is not None:
                return value, False
        return self._add_first_version(module, secret), True
