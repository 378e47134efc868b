"""The lookup englab.mlops.platform_secret: options from the play's variables, refusals, no value in any output."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
import yaml
from ansible.errors import AnsibleLookupError
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import lookup_loader
from ansible.template import Templar, trust_as_template
from ansible.utils.display import Display
from ansible_collections.englab.mlops.plugins.lookup import platform_secret
from ansible_collections.englab.mlops.plugins.plugin_utils import platform_secrets as ps


def run(terms, variables, **kwargs):
    loader = DataLoader()
    templar = Templar(loader=loader, variables=variables)
    lookup = lookup_loader.get("englab.mlops.platform_secret", loader=loader, templar=templar)
    return lookup.run(terms, variables=variables, **kwargs)


@pytest.fixture(autouse=True)
def _no_google_environment(monkeypatch):
    for name in ("GCP_PROJECT", "GCE_PROJECT", "GOOGLE_CLOUD_PROJECT", "GOOGLE_APPLICATION_CREDENTIALS",
                 "GCE_CREDENTIALS_FILE_PATH", "GCP_SERVICE_ACCOUNT_FILE"):  # fmt: skip
        monkeypatch.delenv(name, raising=False)


def test_controller_store_follows_mlops_secrets_dir_as_a_template(tmp_path):
    # A play's variable is a trusted template (mlops_secrets_dir's default is one).
    variables = {
        "base": str(tmp_path),
        "mlops_secrets_dir": trust_as_template("{{ base }}/englab"),
        "mlops_target": "local",
    }
    [training, admin] = run(["tracking_user/training", "tracking_admin"], variables)
    assert (tmp_path / "englab" / "tracking_user_training").read_text() == training + "\n"
    assert (tmp_path / "englab" / "tracking_admin").read_text() == admin + "\n"
    assert stat.S_IMODE((tmp_path / "englab" / "tracking_admin").stat().st_mode) == 0o600
    assert run(["tracking_user/training"], variables) == [training]


def test_controller_store_can_be_chosen_on_gcp(tmp_path):
    variables = {
        "mlops_secrets_dir": str(tmp_path),
        "mlops_target": "gcp",
        "mlops_secrets_store": "controller",
    }
    [value] = run(["repository_user/englab"], variables)
    assert (tmp_path / "repository_user_englab").read_text() == value + "\n"


@pytest.mark.parametrize(
    ("terms", "variables", "kwargs", "message"),
    [
        (["tracking_users/training"], {}, {}, "unknown platform secret 'tracking_users/training'; known: db_password, "
         "repository_user/<name>, tracking_admin, tracking_flask_secret_key, tracking_user/<name>"),
        (["tracking_admin"], {"mlops_secrets_store": "vault"}, {},
         "mlops_secrets_store must be one of controller, gcp_secret_manager, got 'vault'"),
        (["tracking_admin"], {}, {"store": "files"}, "mlops_secrets_store must be one of controller, gcp_secret_manager, got 'files'"),
        (["tracking_admin"], {"mlops_target": "aws"}, {}, "mlops_target must be one of local, gcp, got 'aws'"),
        # gcp's default store is Secret Manager: without a project it names the variable to set.
        (["tracking_admin"], {"mlops_target": "gcp"}, {}, "the gcp_secret_manager store needs mlops_gcp_project"),
        (["tracking_admin"], {"mlops_target": "local"}, {}, "mlops_secrets_dir must name the controller's secrets directory, got ''"),
    ],
)  # fmt: skip
def test_refusals_name_the_variable_the_allowed_values_and_the_value(terms, variables, kwargs, message):
    with pytest.raises(AnsibleLookupError) as refused:
        run(terms, variables, **kwargs)
    assert str(refused.value).startswith("englab.mlops.platform_secret: ")
    assert message in str(refused.value)


def test_no_value_in_any_output_at_the_highest_verbosity(tmp_path, capfd, monkeypatch):
    monkeypatch.setattr(Display(), "verbosity", 5)
    [value] = run(["tracking_flask_secret_key"], {"mlops_secrets_dir": str(tmp_path)})
    out, err = capfd.readouterr()
    assert len(value) == 64 and value not in out + err


def test_known_names_in_the_docs_are_the_catalogue():
    doc = lookup_loader.find_plugin_with_context("englab.mlops.platform_secret").plugin_resolved_path
    text = Path(doc).read_text(encoding="utf-8")
    for name in ps.known_names():
        assert f"C({name})" in text


def test_gcp_defaults_are_the_provision_roles():
    """The lookup runs in plays where the provision role's defaults are not in scope: it must agree with them."""
    options = yaml.safe_load(platform_secret.DOCUMENTATION)["options"]
    defaults = (
        Path(__file__).resolve().parents[4] / "roles" / "provision" / "defaults" / "main.yml"
    ).read_text()
    assert "mlops_gcp_region: {} ".format(options["region"]["default"]) in defaults
    # Ansible takes the last environment variable set: the provision role's first choice goes last.
    assert [env["name"] for env in options["project"]["env"]][::-1] == [
        "GCP_PROJECT",
        "GCE_PROJECT",
        "GOOGLE_CLOUD_PROJECT",
    ]
    assert (
        "lookup('ansible.builtin.env', 'GCP_PROJECT') or lookup('ansible.builtin.env', 'GCE_PROJECT')"
        in defaults
    )
    assert [env["name"] for env in options["credentials_file"]["env"]][::-1] == [
        "GOOGLE_APPLICATION_CREDENTIALS", "GCE_CREDENTIALS_FILE_PATH", "GCP_SERVICE_ACCOUNT_FILE"]  # fmt: skip


def test_where_and_previous_read_nothing_and_create_nothing(tmp_path):
    variables = {"mlops_target": "local", "mlops_secrets_dir": str(tmp_path / "s")}
    assert run(["db_password", "tracking_user/serving"], variables, where=True) == [
        f"the controller file {tmp_path}/s/db_password",
        f"the controller file {tmp_path}/s/tracking_user_serving",
    ]
    assert run(["tracking_admin"], variables, previous=True) == [""]
    assert not (tmp_path / "s").exists()
    [first] = run(["tracking_admin"], variables)
    rotated = ps.rotate_controller_secret(str(tmp_path / "s"), ps.parse_name("tracking_admin"))
    assert run(["tracking_admin"], variables) == [rotated]
    assert run(["tracking_admin"], variables, previous=True) == [first]
