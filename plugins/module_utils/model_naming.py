# -*- coding: utf-8 -*-
# Copyright (c) englab MLOps engineers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Registered model names: MLflow's rules for them, and the Docker repository each one gets.

Pure functions, shared by the model_name_problem and model_repository filters and their tests.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import hashlib
import re

# The model registry's name column (mlflow/store/model_registry/dbmodels/models.py: String(256)).
MODEL_NAME_MAX_LENGTH = 256
# The readable part of a repository name; the hash after it is what keeps names apart.
SLUG_MAX_LENGTH = 40
HASH_LENGTH = 12
# One path component of a Docker repository name (distribution/reference's grammar).
DOCKER_PATH_COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")


def model_name_problem(name):
    """Why MLflow would refuse ``name`` as a registered model name; "" when it accepts it.

    The rules of MLflow 3.17's ``_validate_model_name`` (not blank, no "/" or ":", not a path
    that resolves to another name) plus the registry's 256-character column, checked here so a
    wrong name is refused before anything runs instead of failing halfway through.
    """
    if not isinstance(name, str):
        return "a registered model name must be a string, got %s" % type(name).__name__
    if name.strip() == "":
        return "a registered model name must not be empty or blank"
    if "/" in name or ":" in name:
        return "a registered model name cannot contain '/' or ':'"
    # Without "/" the only names posixpath.normpath changes or MLflow reads as a path are these.
    if name == "." or name.startswith(".."):
        return "a registered model name cannot be '.' or start with '..'"
    if len(name) > MODEL_NAME_MAX_LENGTH:
        return "a registered model name has at most %d characters, this one has %d" % (
            MODEL_NAME_MAX_LENGTH,
            len(name),
        )
    return ""


def model_repository(name):
    """The Docker repository (one path component) that holds the serving images of ``name``.

    A readable slug of the name and the first hex digits of the SHA-256 of its exact UTF-8 bytes:
    "Diabetes" and "diabetes", or "my model" and "my-model", share a slug but never a repository,
    so deploying one cannot overwrite the images the other's rollback needs.
    """
    if not isinstance(name, str):
        raise TypeError("a registered model name must be a string, got %s" % type(name).__name__)
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:HASH_LENGTH]
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:SLUG_MAX_LENGTH].rstrip("-")
    return "%s-%s" % (slug or "model", digest)
