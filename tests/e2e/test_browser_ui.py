"""Issue 22: the MLflow UI, the page users look at every day, in a real browser.

Headless Chromium (Debian's chromium and chromium-driver, driven by Selenium) opens the tracking
server's published port over TLS. The browser trusts the platform CA the way a user's would: the
CA is imported into the NSS database of the browser's own HOME (certutil), and no certificate
error is ignored. The admin's credentials go into every request as the Authorization header
(Chrome DevTools Network.setExtraHTTPHeaders), as a browser that answered the basic-auth prompt
sends them.

What a user sees is asserted: the experiment list with the example's experiment, the page of the
run behind the served version with its metric, and the served version in the model registry
carrying the `champion` alias. Every response the browser received is read from its performance
log: none may answer 4xx or 5xx, and none may fail to load. Screenshots of the three pages are
kept in .cache/e2e/ui (CI keeps .cache/e2e as the run's artifacts).
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import ssl
import subprocess
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import LOGS, Platform
from selenium import webdriver
from selenium.common.exceptions import TimeoutException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

MODEL = "englab-diabetes"  # roles/train/defaults: train_model_name
EXPERIMENT = "englab-diabetes"  # train_experiment
METRIC = "rmse"  # train_metric
SHOTS = LOGS / "ui"
WAIT = 60  # seconds for a page of the single-page app to show its data


def api(platform: Platform, path: str, **query: str) -> dict:
    """One GET of the tracking REST API as the admin, TLS checked against the platform CA."""
    context = ssl.create_default_context(cafile=str(platform.secrets_dir / "tracking_ca.crt"))
    token = base64.b64encode(f"admin:{platform.admin_password()}".encode()).decode()
    request = urllib.request.Request(  # noqa: S310 https only
        f"{platform.tracking_url}/api/2.0/mlflow/{path}?{urllib.parse.urlencode(query)}",
        headers={"Authorization": f"Basic {token}"},
    )
    with urllib.request.urlopen(request, context=context, timeout=30) as response:  # noqa: S310
        return json.loads(response.read())


@pytest.fixture
def browser(platform: Platform, tmp_path: Path) -> Iterator[webdriver.Chrome]:
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    assert chromium and driver, "Debian's chromium and chromium-driver: make deps installs them"
    # Chromium on Linux reads the certificates it trusts from $HOME/.pki/nssdb.
    home = tmp_path / "home"
    nssdb = home / ".pki" / "nssdb"
    nssdb.mkdir(parents=True)
    subprocess.run(["certutil", "-N", "-d", f"sql:{nssdb}", "--empty-password"], check=True)
    subprocess.run(
        ["certutil", "-A", "-d", f"sql:{nssdb}", "-n", "englab platform CA", "-t", "C,,", "-i",
         str(platform.secrets_dir / "tracking_ca.crt")],
        check=True,
    )  # fmt: skip
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    # No traffic of the browser's own (first-run pages, component updates, sync): the log holds the
    # platform's pages and what they load.
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1440,1000",
                     f"--user-data-dir={tmp_path / 'profile'}", "--no-first-run", "--no-default-browser-check",
                     "--disable-background-networking", "--disable-component-update", "--disable-default-apps",
                     "--disable-sync", "about:blank"):  # fmt: skip
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    service = Service(executable_path=driver, env={**os.environ, "HOME": str(home)})
    chrome = webdriver.Chrome(service=service, options=options)
    try:
        token = base64.b64encode(f"admin:{platform.admin_password()}".encode()).decode()
        chrome.execute_cdp_cmd("Network.enable", {})
        chrome.execute_cdp_cmd(
            "Network.setExtraHTTPHeaders", {"headers": {"Authorization": f"Basic {token}"}}
        )
        yield chrome
    finally:
        chrome.quit()


def responses(chrome: webdriver.Chrome) -> tuple[list[tuple[int, str]], list[str]]:
    """(status, url) of every response since the last call, and every request that failed to load."""
    answered, failed, urls = [], [], {}
    for entry in chrome.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        params = message.get("params", {})
        if message["method"] == "Network.requestWillBeSent":
            urls[params["requestId"]] = params["request"]["url"]
        elif message["method"] == "Network.responseReceived":
            answered.append((params["response"]["status"], params["response"]["url"]))
        # A failure the log gives no request for belongs to another target of the browser (Debian's
        # chromium opens its start page from the internet in a tab of its own); the page's count.
        elif (
            message["method"] == "Network.loadingFailed"
            and params["requestId"] in urls
            and not params.get("canceled")
        ):
            failed.append(f"{urls[params['requestId']]}: {params.get('errorText')}")
    return answered, failed


def show(chrome: webdriver.Chrome, url: str, texts: list[str], shot: str) -> str:
    """Open url, wait until the page's text holds every one of texts, keep a screenshot, return the text."""
    chrome.get(url)
    body = ""

    def shown(driver: webdriver.Chrome) -> bool:
        nonlocal body
        body = driver.find_element(By.TAG_NAME, "body").text
        return all(text in body for text in texts)

    SHOTS.mkdir(parents=True, exist_ok=True)
    try:
        WebDriverWait(chrome, WAIT, poll_frequency=0.5).until(shown)
    except TimeoutException:
        chrome.save_screenshot(str(SHOTS / f"{shot}-timeout.png"))
        missing = [text for text in texts if text not in body]
        raise AssertionError(
            f"{url}: after {WAIT} s the page does not show {missing}; it shows:\n{body[:2000]}"
        ) from None
    chrome.save_screenshot(str(SHOTS / f"{shot}.png"))
    return body


def test_the_mlflow_ui_shows_experiments_runs_and_the_served_champion(
    platform: Platform, browser: webdriver.Chrome
):
    with urllib.request.urlopen(platform.serving_url + "/englab/version", timeout=10) as r:  # noqa: S310
        served = str(json.loads(r.read())["version"])
    champion = api(platform, "registered-models/alias", name=MODEL, alias="champion")["model_version"]
    assert champion["version"] == served, (
        "the platform no longer serves its champion: the test needs site.yml's state"
    )
    run = api(platform, "runs/get", run_id=champion["run_id"])["run"]
    experiment_id = run["info"]["experiment_id"]
    assert any(m["key"] == METRIC for m in run["data"]["metrics"]), run["data"]["metrics"]

    base = platform.tracking_url
    show(browser, f"{base}/#/experiments", [EXPERIMENT], "1-experiments")
    show(browser, f"{base}/#/experiments/{experiment_id}/runs/{champion['run_id']}",
         [run["info"]["run_name"], METRIC], "2-run")  # fmt: skip
    # The version's own page: its aliases are listed there, and only its own.
    show(
        browser,
        f"{base}/#/models/{MODEL}/versions/{served}",
        [f"Version {served}", "champion"],
        "3-model-version",
    )

    answered, failed = responses(browser)
    assert answered, "the performance log recorded no response: the check would pass on nothing"
    assert any(url.startswith(f"{base}/ajax-api/") and status == 200 for status, url in answered), answered
    errors = [f"{status} {url}" for status, url in answered if status >= 400]
    assert errors == [], f"the browser got error answers: {errors}"
    assert failed == [], f"requests failed to load in the browser: {failed}"
