# -*- coding: utf-8 -*-
# Copyright (c) englab MLOps engineers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
name: platform_secret
short_description: A platform secret by name, from the platform's secret store
version_added: 0.2.0
author: englab MLOps engineers (@englab)
description:
  - The one owner of the platform's secrets. Knows every secret by name, how it is generated, where it
    is kept and which nodes read it; roles ask it for a name, never for a file path.
  - "Known names: C(db_password) (32 characters, letters, digits and C(@:/%#?)), C(tracking_admin) (32,
    letters and digits), C(tracking_flask_secret_key) (64, letters and digits), C(tracking_user/<name>)
    (32, letters and digits; read by the tracking node and by the node group named C(<name>)),
    C(repository_user/<name>) (32, letters and digits; the local registry and the serving node). An unknown
    name is refused with the list of known ones."
  - A secret that exists is read, never regenerated. One that does not is generated once and stored.
  - "Store C(controller): the file C(<mlops_secrets_dir>/<name with / as _>) (C(tracking_user_training)),
    0600 in a 0700 directory, the file ansible.builtin.password wrote before, so existing platforms keep
    their secrets. It is written atomically: two forks asking at once get the same value."
  - "Store C(gcp_secret_manager): the Secret Manager secret C(<mlops_name_prefix>englab-<name>) (C(_) and C(/)
    as C(-), other characters than letters, digits and C(-) as C(_<hex>)) in project O(project), made with
    the controller's credentials through the google.cloud collection's code: the latest enabled version is
    read; an absent secret is created (user-managed replication in O(region), labels), the service account
    of every node that reads it (as terraform/iam.tf names them) is granted C(roles/secretmanager.secretAccessor)
    on that secret alone (gcp target), and its first version is added: the value of the controller store's file
    when O(secrets_dir) holds one (a platform made before this store keeps its secrets), else a new one.
    A second version is never added.
    C(db_password) on the gcp target is Terraform's C(<prefix>englab-db-password): read, never created."
  - "Rotation: C(-e mlops_rotate=<name>) on englab.mlops.site; the provision role replaces the stored value
    once, before any role reads it (englab.mlops.rotate_platform_secret), and every role that uses the secret
    applies the new value in the same run. The value it replaced stays readable with O(previous)."
  - The value is never printed or logged by this plugin; give every task that uses it C(no_log).
options:
  _terms:
    description: Names of platform secrets, for example C(tracking_user/training).
    type: list
    elements: str
    required: true
  previous:
    description:
      - Return the value the last rotation replaced instead (an empty string when the secret was never rotated);
        the controller file C(<file>.previous), or the second newest enabled Secret Manager version. Never
        creates anything.
      - The tracking server role uses it to set a rotated admin password with the one in force.
    type: bool
    default: false
  where:
    description:
      - Return where the store keeps each secret instead of its value, for messages (C(the controller file
        /root/.config/englab-mlops/englab/db_password), C(Secret Manager secret englab-tracking-admin of project p)).
        Reads and creates nothing.
    type: bool
    default: false
  store:
    description:
      - C(controller) or C(gcp_secret_manager). Unset, the target's default; C(controller) on C(local) and
        C(gcp_secret_manager) on C(gcp) (docs/awx.md says why).
    type: str
    vars:
      - name: mlops_secrets_store
  target:
    description: The platform's target (a contract fact), C(local) or C(gcp).
    type: str
    default: local
    vars:
      - name: mlops_target
  secrets_dir:
    description:
      - The controller store's directory (a contract fact); the C(controller) store needs it.
      - The C(gcp_secret_manager) store reads it only to move an existing secret into Secret Manager.
    type: str
    vars:
      - name: mlops_secrets_dir
  name_prefix:
    description: The platform's name prefix (a contract fact); starts every Secret Manager secret id.
    type: str
    default: ""
    vars:
      - name: mlops_name_prefix
  project:
    description: Project of the Secret Manager secrets; C(mlops_gcp_project), else the environment as the provision role reads it.
    type: str
    env:
      - name: GOOGLE_CLOUD_PROJECT
      - name: GCE_PROJECT
      - name: GCP_PROJECT
    vars:
      - name: mlops_gcp_project
  region:
    description: The one location new Secret Manager secrets are replicated to; the platform's region.
    type: str
    default: europe-west1
    vars:
      - name: mlops_gcp_region
  credentials_file:
    description:
      - Service-account key the controller uses for Secret Manager, the provision role's credentials
        (the same environment variables, the AWX Google credential's among them). Empty uses Application
        Default Credentials.
    type: str
    default: ""
    env:
      - name: GCP_SERVICE_ACCOUNT_FILE
      - name: GCE_CREDENTIALS_FILE_PATH
      - name: GOOGLE_APPLICATION_CREDENTIALS
    vars:
      - name: provision_gcp_credentials_file
notes:
  - Lookups run on the controller; a node reads nothing here. On the gcp target the nodes' accessor grants
    let a node read its own secrets itself (the tracking node reads the Cloud SQL password that way).
seealso:
  - name: docs/awx.md
    description: Which store an AWX job uses on each target.
    link: https://github.com/englab/mlops/blob/main/docs/awx.md
"""

EXAMPLES = r"""
- name: Give the training node its tracking account
  ansible.builtin.set_fact:
    training_node_tracking_password: "{{ lookup('englab.mlops.platform_secret', 'tracking_user/training') }}"
  no_log: true

- name: Keep a local platform's secrets in Secret Manager as well (an AWX job on the local target)
  ansible.builtin.set_fact:
    admin_password: "{{ lookup('englab.mlops.platform_secret', 'tracking_admin', store='gcp_secret_manager') }}"
  no_log: true

- name: Name where the database password is kept in a message, never its value
  ansible.builtin.debug:
    msg: "The database password is {{ lookup('englab.mlops.platform_secret', 'db_password', where=true) }}"
"""

RETURN = r"""
_raw:
  description: The secret values, one per name (with O(where), where each is kept).
  type: list
  elements: str
"""

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase
from ansible_collections.englab.mlops.plugins.plugin_utils.platform_secrets import (
    GcpSecretStore,
    SecretError,
    controller_previous,
    controller_secret,
    location,
    parse_name,
    resolve_store,
    rotate_controller_secret,
)


class PlatformStore:
    """The store in force with its options resolved; the action plugin rotate_platform_secret uses it too."""

    def __init__(self, store, target, *, secrets_dir, name_prefix, project, region, credentials_file):
        self.store = resolve_store(store, target)
        self.target = target
        self.secrets_dir = secrets_dir
        self.name_prefix = name_prefix
        self.project = project
        self._gcp = None
        if self.store == "gcp_secret_manager":
            self._gcp = GcpSecretStore(
                project=project,
                region=region,
                name_prefix=name_prefix,
                credentials_file=credentials_file,
                target=target,
                seed_dir=secrets_dir,
            )

    def value(self, secret):
        if self._gcp:
            return self._gcp.secret(secret)[0]
        return controller_secret(self.secrets_dir, secret)[0]

    def previous(self, secret):
        return self._gcp.previous(secret) if self._gcp else controller_previous(self.secrets_dir, secret)

    def rotate(self, secret):
        return self._gcp.rotate(secret) if self._gcp else rotate_controller_secret(self.secrets_dir, secret)

    def where(self, secret):
        return location(secret, self.store, self.secrets_dir, self.project, self.name_prefix)


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        try:
            secrets = [parse_name(term) for term in terms]
            store = self.platform_store()
            if self.get_option("where"):
                return [store.where(secret) for secret in secrets]
            if self.get_option("previous"):
                return [store.previous(secret) for secret in secrets]
            return [store.value(secret) for secret in secrets]
        except SecretError as error:
            raise AnsibleLookupError("englab.mlops.platform_secret: %s" % error) from None

    def platform_store(self):
        """The store of the options set (set_options first); raises SecretError."""
        return PlatformStore(
            store=self._option("store"),
            target=self._option("target"),
            secrets_dir=self._option("secrets_dir"),
            name_prefix=self._option("name_prefix"),
            project=self._option("project"),
            region=self._option("region"),
            credentials_file=self._option("credentials_file"),
        )

    def _option(self, name):
        """An option's value as a string; one read from a variable is a template (mlops_secrets_dir's default is)."""
        value = self.get_option(name)
        return "" if value is None else str(self._templar.template(value)).strip()
