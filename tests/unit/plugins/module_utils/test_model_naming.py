"""Model names: MLflow's rules, and one Docker repository per exact name (issue 15)."""

from __future__ import annotations

import hashlib
import random
import re
import string

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.englab.mlops.plugins.filter.model_name_problem import FilterModule as ProblemFilter
from ansible_collections.englab.mlops.plugins.filter.model_repository import FilterModule as RepositoryFilter
from ansible_collections.englab.mlops.plugins.module_utils.model_naming import (
    MODEL_NAME_MAX_LENGTH,
    model_name_problem,
    model_repository,
)

# distribution/reference: a path component, a whole name of at most 255 characters, a tag.
COMPONENT = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
TAG = re.compile(r"[\w][\w.-]{0,127}")
# A long registry path, as Artifact Registry's are.
LONG_REGISTRY = "europe-west1-docker.pkg.dev/englab-a-thirty-char-project/englab-repository"

ADVERSARIAL_PAIRS = [
    ("Diabetes", "diabetes"),
    ("my model", "my-model"),
    ("my model", "my_model"),
    ("my-model", "my--model"),
    ("model", "model "),
    ("model", " model"),
    ("a.b", "a-b"),
    ("café", "cafe"),
    ("café", "cafe\u0301"),  # NFC and NFD spellings of the same word are different MLflow names
    ("Ωmega", "ωmega"),
    ("模型", "模式"),
    ("模型", "model"),
    ("KELVIN", "\u212aelvin"),  # the Kelvin sign lower-cases to an ASCII k
    ("x" * 200 + "a", "x" * 200 + "b"),  # same 40-character slug once truncated
    ("x" * 256, "x" * 255),
    ("englab-diabetes", "englab-diabetes-" + model_repository("englab-diabetes").rsplit("-", 1)[1]),
]


@pytest.mark.parametrize(("first", "second"), ADVERSARIAL_PAIRS)
def test_different_names_never_share_a_repository(first: str, second: str) -> None:
    assert first != second
    assert model_repository(first) != model_repository(second)


def assert_docker_valid(name: str) -> None:
    repository = model_repository(name)
    assert COMPONENT.fullmatch(repository), (name, repository)
    assert len(f"{LONG_REGISTRY}/{repository}") <= 255, repository
    assert len(repository) <= 40 + 1 + 12
    # Tags are MLflow version numbers; the largest a registry could hold still fits.
    assert TAG.fullmatch(str(2**63 - 1))


def random_name(rng: random.Random) -> str:
    alphabet = (
        string.ascii_letters + string.digits + " ._-~!@#$%^&*()[]{}'\"\\|,;<>?=+`" + "éßΩ模型\u0301\u200b\t"
    )
    return "".join(rng.choice(alphabet) for _unused in range(rng.randint(1, MODEL_NAME_MAX_LENGTH)))


def test_every_generated_name_maps_to_a_valid_distinct_repository() -> None:
    rng = random.Random(15)  # noqa: S311 - a fixed seed, so a failure reproduces
    names = {random_name(rng) for _unused in range(20000)}
    # Variants that share their slug with another name: case, separators, truncation.
    names |= {n.upper() for n in list(names)[:2000]} | {n.replace(" ", "-") for n in list(names)[:2000]}
    repositories = {}
    for name in names:
        assert_docker_valid(name)
        repositories.setdefault(model_repository(name), name)
    assert len(repositories) == len(names)


@pytest.mark.parametrize("name", ["", "-", "---", "模型", "...", "_", "\u200b", "x" * 1000])
def test_names_without_a_readable_slug_are_still_valid(name: str) -> None:
    assert_docker_valid(name)


def test_the_mapping_is_stable_and_readable() -> None:
    # Deterministic across runs and machines (no per-process hash seed): rollback finds its images.
    digest = hashlib.sha256(b"englab-diabetes").hexdigest()[:12]
    assert model_repository("englab-diabetes") == f"englab-diabetes-{digest}"
    assert model_repository("My Model v2").startswith("my-model-v2-")
    assert model_repository("模型").startswith("model-")


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("", "must not be empty or blank"),
        ("   ", "must not be empty or blank"),
        ("team/model", "cannot contain '/' or ':'"),
        ("model:v1", "cannot contain '/' or ':'"),
        (".", "cannot be '.' or start with '..'"),
        ("..", "cannot be '.' or start with '..'"),
        ("..model", "cannot be '.' or start with '..'"),
        ("x" * (MODEL_NAME_MAX_LENGTH + 1), "at most 256 characters, this one has 257"),
        (None, "must be a string, got NoneType"),
    ],
)
def test_names_mlflow_refuses_are_refused_with_the_reason(name: object, reason: str) -> None:
    assert reason in model_name_problem(name)


@pytest.mark.parametrize(
    "name", ["englab-diabetes", "Diabetes", "my model", "a.b", "model.", ".model", "模型", "x" * 256, "5"]
)
def test_names_mlflow_accepts_pass(name: str) -> None:
    assert model_name_problem(name) == ""


def test_filters_are_the_module_utils_functions() -> None:
    problem = ProblemFilter().filters()["model_name_problem"]
    repository = RepositoryFilter().filters()["model_repository"]
    assert problem("a/b") == model_name_problem("a/b") != ""
    assert repository("Diabetes") == model_repository("Diabetes")
    with pytest.raises(AnsibleFilterError, match=r"englab\.mlops\.model_repository: .*must be a string"):
        repository(None)
