# -*- coding: utf-8 -*-
# Copyright (c) englab MLOps engineers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
name: os_login_user
short_description: The OS Login user name of a Google service-account key file
version_added: 0.2.0
author: englab MLOps engineers (@englab)
description:
  - Reads a Google credentials file on the controller and returns the POSIX user name OS Login
    gives its identity when that can be known offline, that is C(sa_<client_id>) for a
    service-account key.
  - Returns an empty string for an empty path, a missing or unreadable file, or credentials of
    another kind (a user's C(authorized_user) ADC file names no account); the caller then asks
    C(gcloud compute os-login describe-profile) or refuses the run.
  - Only the C(type) and C(client_id) fields are read; the private key never leaves the file.
options:
  _input:
    description: Path of the credentials file (for example C(GOOGLE_APPLICATION_CREDENTIALS)).
    type: str
    required: true
"""

EXAMPLES = r"""
- name: The OS Login user of the key Terraform uses
  ansible.builtin.set_fact:
    login_user: "{{ lookup('ansible.builtin.env', 'GOOGLE_APPLICATION_CREDENTIALS') | englab.mlops.os_login_user }}"
"""

RETURN = r"""
_value:
  description: C(sa_<client_id>), or an empty string when the file does not say.
  type: str
"""

from ansible_collections.englab.mlops.plugins.module_utils.inventory_contract import os_login_user


class FilterModule(object):
    def filters(self):
        return {"os_login_user": os_login_user}
