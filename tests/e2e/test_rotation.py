"""Issue 17: -e mlops_rotate=tracking_user/serving through englab.mlops.site.

One run gives the platform secret a new value (the provision role, once) and every role that uses
it applies it: the tracking server resets the MLflow account through the admin API, the serving
node rewrites its credentials file. Afterwards MLflow refuses the old password and takes the new
one, a deploy (which resolves the model with the serving account) still works, and a plain re-run
changes nothing.
"""

from __future__ import annotations

import time

from conftest import Platform, recap

SECRET = "tracking_user_serving"  # noqa: S105 - the file name of the secret, not a value
# tracking_server_auth_cache_ttl_seconds (60 by default): MLflow may accept a password it has
# already checked for this long after it changed.
AUTH_CACHE_TTL = 60


def read_secret(platform: Platform, name: str) -> str:
    return (platform.secrets_dir / name).read_text().split()[0]


def test_rotating_the_serving_account_is_applied_in_the_same_run(platform: Platform):
    old = read_secret(platform, SECRET)
    assert platform.api_status("serving", old) == 200

    # -v: task results (the rotation's message among them) are printed, and searched for the values
    rotated = platform.playbook(
        "englab.mlops.site", "rotate-serving", args=("-v",), mlops_rotate="tracking_user/serving"
    )
    output = rotated.stdout + rotated.stderr
    new = read_secret(platform, SECRET)
    # the store: a new value (0600), the replaced one kept as the previous value
    assert new != old and len(new) == 32
    assert (platform.secrets_dir / SECRET).stat().st_mode & 0o777 == 0o600
    assert read_secret(platform, SECRET + ".previous") == old
    assert (platform.secrets_dir / (SECRET + ".previous")).stat().st_mode & 0o777 == 0o600
    # rotated once, by the provision role, and no value in the output
    assert output.count("platform secret 'tracking_user/serving' has a new value") == 1
    assert old not in output and new not in output
    # the tracking server reset the account, the serving node rewrote its credentials
    counts = recap(rotated)
    assert counts[platform.node("tracking-node")]["changed"] >= 1
    assert counts[platform.node("serving-node")]["changed"] >= 1
    env = platform.exec("serving-node", "cat", "/etc/englab-serving/mlflow.env").stdout
    assert f"MLFLOW_TRACKING_PASSWORD={new}\n" in env, "the serving node kept the old password"

    # MLflow: the new password works at once
    rotated_at = time.monotonic()
    assert platform.api_status("serving", new) == 200
    # the other accounts were not touched
    assert platform.api_status("training", read_secret(platform, "tracking_user_training")) == 200

    # a deploy resolves the model with the serving account: it still works
    platform.playbook("englab.mlops.deploy", "deploy-after-rotation")

    # a plain re-run applies nothing new and rotates nothing
    again = platform.playbook("englab.mlops.site", "site-after-rotation")
    assert all(host["changed"] == 0 for host in recap(again).values()), recap(again)
    assert read_secret(platform, SECRET) == new

    # the old password is refused once the auth cache forgot it (the two runs above took most of that)
    deadline = rotated_at + AUTH_CACHE_TTL + 30
    while platform.api_status("serving", old) != 401 and time.monotonic() < deadline:
        time.sleep(5)
    assert platform.api_status("serving", old) == 401
    assert platform.api_status("serving", new) == 200


def test_rotate_is_refused_off_site_and_for_unknown_names(platform: Platform):
    before = {p.name: p.read_bytes() for p in platform.secrets_dir.iterdir() if p.is_file()}
    for entry, value, message in (
        (
            "englab.mlops.site",
            "tracking_users/serving",
            "mlops_rotate must name one platform secret: unknown",
        ),
        ("englab.mlops.deploy", "tracking_user/serving", "mlops_rotate is applied by englab.mlops.site only"),
    ):
        refused = platform.playbook(entry, "rotate-refused", check=False, mlops_rotate=value)
        output = refused.stdout + refused.stderr
        assert refused.returncode != 0 and message in output and "Traceback" not in output
    after = {p.name: p.read_bytes() for p in platform.secrets_dir.iterdir() if p.is_file()}
    assert after == before
