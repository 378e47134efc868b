# -*- coding: utf-8 -*-
# Copyright (c) englab MLOps engineers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
# This file only documents the action plugin plugins/action/terraform.py.

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: terraform
short_description: Run a Terraform root with cloud.terraform.terraform, or community.general.terraform without it
version_added: 0.1.0
author: englab MLOps engineers (@englab)
description:
  - An action plugin that validates its arguments, then runs M(cloud.terraform.terraform)
    where that collection is installed and M(community.general.terraform) otherwise. The two
    modules take the same arguments, so playbooks and roles have one code path.
  - Which module ran is returned as RV(terraform_module).
  - Credentials and other settings reach Terraform through the task's C(environment)
    (for example C(GOOGLE_APPLICATION_CREDENTIALS)).
extends_documentation_fragment:
  - action_common_attributes
attributes:
  check_mode:
    support: full
    details: Plans without applying, like the modules it runs.
  diff_mode:
    support: full
  idempotent:
    description: A second run with the same arguments reports no change.
    support: full
    details: Terraform itself reports no change when the infrastructure matches the root.
  platform:
    platforms: posix
options:
  project_path:
    description: Directory of the Terraform root.
    type: path
    required: true
  binary_path:
    description: The terraform executable; default is C(terraform) on PATH.
    type: path
  state:
    description: C(present) applies the root, C(absent) destroys what it manages.
    type: str
    choices: [present, absent]
    default: present
  variables:
    description: Root variables (C(-var)); see O(complex_vars).
    type: dict
  complex_vars:
    description: Pass lists and maps in O(variables) as HCL values instead of strings.
    type: bool
    default: false
  variables_files:
    description: C(-var-file) files.
    type: list
    elements: path
  backend_config:
    description: C(-backend-config) key/values for C(terraform init), for example a GCS bucket and prefix.
    type: dict
  backend_config_files:
    description: C(-backend-config) files for C(terraform init).
    type: list
    elements: path
  force_init:
    description: Run C(terraform init) even when the root was initialised before.
    type: bool
    default: false
  init_reconfigure:
    description: Pass C(-reconfigure) to C(terraform init).
    type: bool
    default: false
  provider_upgrade:
    description: Pass C(-upgrade) to C(terraform init).
    type: bool
    default: false
  workspace:
    description: Terraform workspace.
    type: str
    default: default
  state_file:
    description: Local state file (C(-state)) for roots without a remote backend.
    type: path
  targets:
    description: C(-target) resource addresses.
    type: list
    elements: str
    default: []
  lock:
    description: Hold the state lock.
    type: bool
    default: true
  lock_timeout:
    description: Seconds to wait for the state lock.
    type: int
  parallelism:
    description: Concurrent operations during apply.
    type: int
  check_destroy:
    description: Fail instead of applying a plan that destroys resources.
    type: bool
    default: false
  plugin_paths:
    description: Directories holding provider plugins (C(-plugin-dir)).
    type: list
    elements: path
seealso:
  - module: community.general.terraform
notes:
  - The run happens on the controller (or wherever the task is delegated) with the
    terraform executable found there.
"""

EXAMPLES = r"""
- name: Apply the bundled root with state in GCS
  englab.mlops.terraform:
    project_path: /root/.cache/englab-mlops/englab/terraform
    force_init: true
    complex_vars: true
    variables:
      project_id: my-project
      region: europe-west1
      prefix: ""
    backend_config:
      bucket: my-state-bucket
      prefix: englab-mlops/englab
  environment:
    GOOGLE_APPLICATION_CREDENTIALS: /runner/sa.json
  register: provision_terraform

- name: Destroy it again
  englab.mlops.terraform:
    project_path: /root/.cache/englab-mlops/englab/terraform
    state: absent
"""

RETURN = r"""
terraform_module:
  description: The module that ran.
  returned: success
  type: str
  sample: community.general.terraform
outputs:
  description: Root outputs by name, each with C(value), C(type) and C(sensitive).
  returned: success
  type: dict
  sample: {"tracking_url": {"sensitive": false, "type": "string", "value": "https://10.10.0.3"}}
stdout:
  description: Terraform's output of the plan or apply.
  returned: always
  type: str
command:
  description: The Terraform command that ran.
  returned: success
  type: str
"""
