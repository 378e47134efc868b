# -*- coding: utf-8 -*-
# Copyright (c) englab MLOps engineers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# This file only documents the action plugin plugins/action/rotate_platform_secret.py.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: rotate_platform_secret
short_description: Give one platform secret a new value in the platform's secret store
version_added: 0.2.0
author: englab MLOps engineers (@englab)
description:
  - An action plugin that runs on the controller. It replaces the stored value of one platform secret of
    englab.mlops.platform_secret (same length and characters) and keeps the value it replaced readable as
    the I(previous) value (C(lookup('englab.mlops.platform_secret', name, previous=true))).
  - "Store C(controller): C(<mlops_secrets_dir>/<file>) is replaced atomically (0600), under an flock, and the
    old value is written to C(<file>.previous) (0600)."
  - "Store C(gcp_secret_manager): a new version is added; the version it replaces stays enabled, every older
    enabled version is disabled, so at most two versions are enabled and the latest is the one in use."
  - The provision role runs it once per run of englab.mlops.site when C(mlops_rotate) is set, before any role
    reads the secret; every role that uses the secret then applies the new value in the same run.
  - Refused, with nothing changed - an unknown name (the known ones are listed), and C(db_password) on the gcp
    target (Terraform's Cloud SQL password; raise C(provision_gcp_db_password_version) instead).
  - The store, project, region, prefix and credentials are read like the lookup reads them (C(mlops_secrets_store),
    C(mlops_secrets_dir), C(mlops_gcp_project), ...).
extends_documentation_fragment:
  - action_common_attributes
attributes:
  check_mode:
    support: full
    details: Reports that the secret would get a new value and changes nothing.
  diff_mode:
    support: none
  idempotent:
    description: A second run with the same arguments reports no change.
    support: none
    details: Every run that asks gives the secret a new value; that is its purpose.
  platform:
    platforms: posix
options:
  name:
    description: The platform secret, for example C(tracking_user/serving), C(repository_user/englab), C(tracking_admin).
    type: str
    required: true
notes:
  - Never returns, prints or logs a value.
seealso:
  - plugin: englab.mlops.platform_secret
    plugin_type: lookup
"""

EXAMPLES = r"""
- name: Rotate the serving node's tracking password
  englab.mlops.rotate_platform_secret:
    name: tracking_user/serving
"""

RETURN = r"""
secret:
  description: The secret's name.
  returned: success
  type: str
  sample: tracking_user/serving
location:
  description: Where the store keeps it.
  returned: success
  type: str
  sample: the controller file /root/.config/englab-mlops/englab/tracking_user_serving
"""
