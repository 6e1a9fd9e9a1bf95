#!/usr/bin/env bash
# A local stand-in for python:3.11-slim-bookworm, built from Debian packages only (no container registry):
# mmdebstrap makes a bookworm root filesystem with Debian's python3 (3.11), `podman import` turns it into an image.
#   docker/base/build-base.sh [IMAGE]        (default localhost/picloss-base:bookworm; needs root, mmdebstrap, podman)
# Then: podman build --build-arg BASE_IMAGE=localhost/picloss-base:bookworm -f docker/Dockerfile --target <process> .
set -euo pipefail
IMAGE=${1:-localhost/picloss-base:bookworm}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
SECURITY=${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
# python-is-python3 gives `python`, as in the official image; ca-certificates for HTTPS (pip, photo downloads).
# The wheels bundle their native libraries (opencv-python-headless, onnxruntime, shapely, pyclipper): no libgl/libglib.
PACKAGES=python3,python3-venv,python3-pip,python-is-python3,ca-certificates,tzdata
# The CAs this host trusts beyond Debian's (a TLS-inspecting egress proxy: pip inside the builds goes through it).
# The image is for building and running here; EXTRA_CA_CERTS="" leaves them out.
EXTRA_CA_CERTS=${EXTRA_CA_CERTS-$(ls /usr/local/share/ca-certificates/*.crt 2>/dev/null || true)}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/ca"
for crt in $EXTRA_CA_CERTS; do cp "$crt" "$work/ca/"; done
mmdebstrap --variant=minbase --include="$PACKAGES" \
  --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
  --dpkgopt='path-include=/usr/share/doc/*/copyright' --dpkgopt='path-exclude=/usr/share/locale/*' \
  --dpkgopt='path-exclude=/usr/share/info/*' \
  --customize-hook="cp -r $work/ca/. \"\$1\"/usr/local/share/ca-certificates/ && chroot \"\$1\" update-ca-certificates" \
  --customize-hook='rm -rf "$1"/var/cache/apt/* "$1"/var/lib/apt/lists/* "$1"/var/log/*.log' \
  bookworm "$work/rootfs.tar" \
  "deb $MIRROR bookworm main" "deb $MIRROR bookworm-updates main" "deb $SECURITY bookworm-security main"
podman import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' \
  --change 'ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt' \
  --change 'CMD ["python3"]' \
  "$work/rootfs.tar" "$IMAGE"
podman run --rm --runtime runc --cgroup-manager=cgroupfs --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 \
  "$IMAGE" python -c 'import sys, venv; assert sys.version_info[:2] == (3, 11), sys.version; print(sys.version)'
echo "built $IMAGE"
