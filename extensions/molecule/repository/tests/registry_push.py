"""Push a one-layer image to the registry through its HTTP API, then pull its manifest.

Runs on the registry node (python3 only): argv is the registry's base URL, the CA file
and the repository name; the user and password come from REGISTRY_USER and
REGISTRY_PASSWORD. Prints the pushed manifest's digest and the catalog as JSON.
"""

import base64
import gzip
import hashlib
import io
import json
import os
import ssl
import sys
import tarfile
import urllib.request

base, cafile, name = sys.argv[1:4]
auth = (
    "Basic "
    + base64.b64encode(f"{os.environ['REGISTRY_USER']}:{os.environ['REGISTRY_PASSWORD']}".encode()).decode()
)
context = ssl.create_default_context(cafile=cafile)


def call(method, url, data=None, headers=None):
    url = url if url.startswith("https://") else base + url
    request = urllib.request.Request(url, data=data, method=method)  # noqa: S310 - https only
    request.add_header("Authorization", auth)
    for key, value in (headers or {}).items():
        request.add_header(key, value)
    with urllib.request.urlopen(request, context=context, timeout=30) as response:  # noqa: S310
        return response.status, dict(response.headers), response.read()


def push_blob(data):
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    _status, headers, _body = call("POST", f"/v2/{name}/blobs/uploads/")
    location = headers["Location"]
    separator = "&" if "?" in location else "?"
    status, _headers, _body = call(
        "PUT", f"{location}{separator}digest={digest}", data, {"Content-Type": "application/octet-stream"}
    )
    assert status == 201, status
    return digest, len(data)


payload = io.BytesIO()
with tarfile.open(fileobj=payload, mode="w") as tar:
    content = b"englab molecule probe\n"
    info = tarfile.TarInfo("probe.txt")
    info.size = len(content)
    tar.addfile(info, io.BytesIO(content))
layer = gzip.compress(payload.getvalue(), mtime=0)
diff_id = "sha256:" + hashlib.sha256(payload.getvalue()).hexdigest()
config = json.dumps(
    {"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": [diff_id]}}
).encode()

config_digest, config_size = push_blob(config)
layer_digest, layer_size = push_blob(layer)
manifest = json.dumps(
    {
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json",
            "size": config_size,
            "digest": config_digest,
        },
        "layers": [
            {
                "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                "size": layer_size,
                "digest": layer_digest,
            }
        ],
    }
).encode()
media = {"Content-Type": "application/vnd.docker.distribution.manifest.v2+json"}
status, headers, _body = call("PUT", f"/v2/{name}/manifests/v1", manifest, media)
assert status == 201, status
pushed = headers["Docker-Content-Digest"]
_status, headers, body = call("GET", f"/v2/{name}/manifests/v1", headers={"Accept": media["Content-Type"]})
assert json.loads(body)["layers"][0]["digest"] == layer_digest
_status, _headers, blob = call("GET", f"/v2/{name}/blobs/{layer_digest}")
assert blob == layer
_status, _headers, catalog = call("GET", "/v2/_catalog")
print(
    json.dumps(
        {
            "pushed": pushed,
            "pulled": headers["Docker-Content-Digest"],
            "catalog": json.loads(catalog)["repositories"],
        }
    )
)
