#!/usr/bin/env bash
# Build the englab node image (Debian 12 + systemd + python3) from Debian's
# packages with debootstrap + `docker import`, only when it is missing.
#
# The tag is content-addressed: it hashes this recipe, the package list and the
# extra CA certificates, so a changed recipe builds a new image and an unchanged
# one is reused.  The stable alias ENGLAB_NODE_IMAGE (default englab/node:bookworm)
# always points at the newest build; roles and Molecule use the alias.
#
# Environment:
#   ENGLAB_NODE_IMAGE      alias to tag (default englab/node:bookworm)
#   ENGLAB_EXTRA_CA_DIR    directory of extra *.crt CA files to trust inside the
#                          image (default /usr/local/share/ca-certificates)
#   ENGLAB_DEBIAN_MIRROR   Debian mirror (default http://deb.debian.org/debian)
#   ENGLAB_NODE_IMAGE_FORCE=1  rebuild even when the content tag exists
# Prints the image reference and id on its last line. `--print-tag` prints the
# content-addressed tag and exits without touching Docker.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
release=bookworm
alias_ref=${ENGLAB_NODE_IMAGE:-englab/node:bookworm}
ca_dir=${ENGLAB_EXTRA_CA_DIR:-/usr/local/share/ca-certificates}
mirror=${ENGLAB_DEBIAN_MIRROR:-http://deb.debian.org/debian}
packages=(
  systemd systemd-sysv dbus python3 python3-apt python3-venv sudo
  ca-certificates iproute2 procps curl gnupg less
  openssh-server socat acl
)

log() { printf '[node-image] %s\n' "$*" >&2; }

ca_files=()
if [ -d "$ca_dir" ]; then
  while IFS= read -r -d '' f; do ca_files+=("$f"); done \
    < <(find "$ca_dir" -maxdepth 2 -type f -name '*.crt' -print0 | sort -z)
fi

digest=$(
  {
    cat "$here/build-node-image.sh"
    printf '%s\n' "$release" "$mirror" "${packages[@]}"
    for f in "${ca_files[@]}"; do sha256sum <"$f"; done
  } | sha256sum | cut -c1-12
)
repo=${alias_ref%:*}
content_ref="$repo:$release-$digest"
if [ "${1:-}" = --print-tag ]; then
  echo "$content_ref"
  exit 0
fi

if [ "${ENGLAB_NODE_IMAGE_FORCE:-0}" != 1 ] && docker image inspect "$content_ref" >/dev/null 2>&1; then
  log "up to date: $content_ref"
else
  command -v debootstrap >/dev/null || { log "debootstrap is missing: apt-get install debootstrap"; exit 1; }
  work=$(mktemp -d /var/tmp/englab-node.XXXXXX)
  trap 'rm -rf "$work"' EXIT
  root="$work/rootfs"
  mkdir -p "$work/empty-context"
  log "debootstrap $release into $root (a few minutes)"
  include=$(IFS=,; echo "${packages[*]}")
  debootstrap --variant=minbase --include="$include" "$release" "$root" "$mirror" >"$work/debootstrap.log" 2>&1 \
    || { tail -20 "$work/debootstrap.log" >&2; exit 1; }

  if [ "${#ca_files[@]}" -gt 0 ]; then
    log "trusting ${#ca_files[@]} extra CA certificate(s) from $ca_dir"
    install -d -m 0755 "$root/usr/local/share/ca-certificates/englab-extra"
    for f in "${ca_files[@]}"; do
      install -m 0644 "$f" "$root/usr/local/share/ca-certificates/englab-extra/$(basename "$f")"
    done
    chroot "$root" update-ca-certificates >/dev/null
    # pip and requests ship their own CA bundle; point them at the system store.
    printf '[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n' >"$root/etc/pip.conf"
  fi

  # A container boots systemd as PID 1: no consoles, no udev, no machine id baked in.
  chroot "$root" systemctl mask getty.target console-getty.service systemd-udevd.service \
    systemd-udev-trigger.service systemd-remount-fs.service sys-kernel-config.mount \
    sys-kernel-debug.mount sys-kernel-tracing.mount systemd-firstboot.service >/dev/null 2>&1
  # SSH, the way a cloud VM is reached: sshd on the node's loopback only (the twin of a
  # firewall that lets in nothing but the IAP tunnel; the controller comes in through
  # `docker exec -i NODE socat - TCP:127.0.0.1:22`), keys only, no root login. Host keys
  # are made at each node's first boot, never baked into the image (one per node, like a VM).
  rm -f "$root"/etc/ssh/ssh_host_*
  printf '%s\n' \
    'ListenAddress 127.0.0.1' 'PermitRootLogin no' 'PasswordAuthentication no' \
    'KbdInteractiveAuthentication no' 'X11Forwarding no' \
    >"$root/etc/ssh/sshd_config.d/10-englab-node.conf"
  printf '%s\n' \
    '[Unit]' 'Description=Generate the SSH host keys of this node' \
    'Before=ssh.service' 'ConditionPathExists=!/etc/ssh/ssh_host_ed25519_key' \
    '[Service]' 'Type=oneshot' 'ExecStart=/usr/bin/ssh-keygen -A' \
    '[Install]' 'WantedBy=ssh.service' \
    >"$root/etc/systemd/system/englab-ssh-hostkeys.service"
  chroot "$root" systemctl enable englab-ssh-hostkeys.service ssh.service >/dev/null 2>&1
  : >"$root/etc/machine-id"
  rm -f "$root/var/lib/dbus/machine-id"
  printf 'APT::Install-Recommends "false";\nAPT::Install-Suggests "false";\n' \
    >"$root/etc/apt/apt.conf.d/90englab-no-recommends"
  printf 'deb %s %s main\ndeb %s %s-updates main\ndeb http://security.debian.org/debian-security %s-security main\n' \
    "$mirror" "$release" "$mirror" "$release" "$release" >"$root/etc/apt/sources.list"
  chroot "$root" apt-get clean
  rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin "$root"/tmp/* "$root"/var/log/*.log

  log "docker import -> $content_ref"
  tar -C "$root" --numeric-owner -c . | docker import - "$content_ref-rootfs" >/dev/null
  # `docker import --change` cannot set STOPSIGNAL; a one-step local build can
  # (FROM a local image needs no registry).
  printf '%s\n' \
    "FROM $content_ref-rootfs" \
    'ENV container=docker' \
    'STOPSIGNAL SIGRTMIN+3' \
    "LABEL org.opencontainers.image.title=englab-node org.opencontainers.image.version=$release-$digest" \
    'CMD ["/lib/systemd/systemd"]' >"$work/Dockerfile"
  docker build -q -t "$content_ref" -f "$work/Dockerfile" "$work/empty-context" >/dev/null 2>"$work/build.err" \
    || { cat "$work/build.err" >&2; exit 1; }
  docker rmi "$content_ref-rootfs" >/dev/null
fi

docker tag "$content_ref" "$alias_ref"
id=$(docker image inspect --format '{{.Id}}' "$content_ref")
printf 'node image: %s (%s) id %s\n' "$alias_ref" "$content_ref" "$id"
