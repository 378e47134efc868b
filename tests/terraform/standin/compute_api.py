"""`ansible-inventory` with Google's HTTPS endpoints answered offline (test code only).

    python -m standin.compute_api -i SOURCE --list

Runs the real ansible-inventory CLI (and so the real google.cloud.gcp_compute plugin, its
GcpSession and google-auth) with requests' transport replaced: the OAuth token endpoint answers
a fake token, the Compute API's ``instances aggregatedList`` answers the JSON file named by
ENGLAB_COMPUTE_ANSWER, any other URL fails. Each request is appended to ENGLAB_COMPUTE_RECORD.
"""

from __future__ import annotations

import json
import os
import sys
from urllib.parse import parse_qs, urlsplit

import requests
from requests.adapters import HTTPAdapter

TOKEN_URI = "https://oauth2.googleapis.com/token"  # noqa: S105 - an endpoint, not a secret
TOKEN = "standin-access-token"  # noqa: S105 - a fake token handed to the plugin
INSTANCES = "/aggregated/instances"


def _answer(request: requests.PreparedRequest, body: dict) -> requests.Response:
    response = requests.Response()
    response.status_code = 200
    response._content = json.dumps(body).encode()
    response.headers["Content-Type"] = "application/json"
    response.url = request.url or ""
    response.request = request
    response.encoding = "utf-8"
    return response


def send(self: HTTPAdapter, request: requests.PreparedRequest, **_unused: object) -> requests.Response:
    url = urlsplit(request.url or "")
    with open(os.environ["ENGLAB_COMPUTE_RECORD"], "a", encoding="utf-8") as record:
        entry = {
            "method": request.method,
            "url": f"{url.scheme}://{url.netloc}{url.path}",
            "query": parse_qs(url.query),
            "authorization": request.headers.get("Authorization", ""),
        }
        record.write(json.dumps(entry) + "\n")
    if request.method == "POST" and request.url == TOKEN_URI:
        return _answer(request, {"access_token": TOKEN, "expires_in": 3600, "token_type": "Bearer"})
    if request.method == "GET" and url.path.endswith(INSTANCES):
        with open(os.environ["ENGLAB_COMPUTE_ANSWER"], encoding="utf-8") as answer:
            return _answer(request, json.load(answer))
    raise requests.ConnectionError(f"stand-in: no answer for {request.method} {request.url}")


def main() -> None:
    HTTPAdapter.send = send  # type: ignore[method-assign]
    from ansible.cli.inventory import main as inventory_main  # noqa: PLC0415 - after the patch

    sys.argv = ["ansible-inventory", *sys.argv[1:]]
    inventory_main()


if __name__ == "__main__":
    main()
