#!/usr/bin/env bash
# `make images`: one image per process from docker/Dockerfile (--target <process>), plus the Triton model
# repository image. Docker when `docker info` works, else podman (rootful, chroot isolation) on the local base
# image docker/base/build-base.sh makes from Debian packages, else nothing (an error with REQUIRE_IMAGES=1).
# Settings (environment): IMAGE_REGISTRY, IMAGE_TAG, IMAGE_PROCESSES, BASE_IMAGE (empty: the Dockerfile's pinned
# python image with Docker, LOCAL_BASE_IMAGE with podman), LOCAL_BASE_IMAGE, IMAGE_ENGINE (docker | podman),
# REQUIRE_IMAGES (or the older REQUIRE_DOCKER).
set -euo pipefail
cd "$(dirname "$0")/.."
IMAGE_REGISTRY=${IMAGE_REGISTRY:-ghcr.io/picloss}
IMAGE_TAG=${IMAGE_TAG:-dev}
IMAGE_PROCESSES=${IMAGE_PROCESSES:-gateway orchestrator dispatcher classifier ocr damage aggregator}
LOCAL_BASE_IMAGE=${LOCAL_BASE_IMAGE:-localhost/picloss-base:bookworm}
REQUIRE_IMAGES=${REQUIRE_IMAGES:-${REQUIRE_DOCKER:-}}

engine=${IMAGE_ENGINE:-}
if [ -z "$engine" ]; then
  if command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1; then engine=docker
  elif command -v podman >/dev/null 2>&1 && podman info >/dev/null 2>&1; then engine=podman
  fi
fi
if [ -z "$engine" ]; then
  echo "make images: neither a Docker engine ('docker info' failed) nor podman is available; nothing built."
  echo "Install podman (apt-get install -y podman buildah mmdebstrap runc) or run where Docker exists; see docs/deploy.md."
  if [ -n "$REQUIRE_IMAGES" ]; then exit 1; fi
  exit 0
fi

build=("$engine" build)
base=${BASE_IMAGE:-}
if [ "$engine" = podman ]; then
  # chroot isolation: builds inside an unprivileged container; the context is cut to what the images copy.
  build+=(--isolation=chroot)
  if [ -z "$base" ]; then
    base=$LOCAL_BASE_IMAGE
    if ! podman image exists "$base"; then
      echo "== local base image $base (docker/base/build-base.sh)"
      docker/base/build-base.sh "$base"
    fi
  fi
fi
base_arg=()
if [ -n "$base" ]; then base_arg=(--build-arg "BASE_IMAGE=$base"); fi

timing() { local start=$1 name=$2; echo "== $name built in $(( $(date +%s) - start )) s"; }
for name in $IMAGE_PROCESSES; do
  image="$IMAGE_REGISTRY/picloss-$name:$IMAGE_TAG"
  echo "== $engine build --target $name -t $image"
  start=$(date +%s)
  ignore=()
  if [ "$engine" = podman ]; then ignore=(--ignorefile docker/Dockerfile.dockerignore); fi
  "${build[@]}" "${ignore[@]}" "${base_arg[@]}" -f docker/Dockerfile --target "$name" -t "$image" .
  timing "$start" "$image"
done

if [ -z "${SKIP_MODEL_REPOSITORY:-}" ]; then
  image="$IMAGE_REGISTRY/picloss-model-repository:$IMAGE_TAG"
  echo "== $engine build -f docker/model-repository/Dockerfile -t $image"
  start=$(date +%s)
  repo_arg=()
  # the default busybox base comes from Docker Hub; with podman here the local base image serves instead
  if [ "$engine" = podman ] && [ -z "${MODEL_REPOSITORY_BASE_IMAGE:-}" ]; then MODEL_REPOSITORY_BASE_IMAGE=$base; fi
  if [ -n "${MODEL_REPOSITORY_BASE_IMAGE:-}" ]; then repo_arg=(--build-arg "BASE_IMAGE=$MODEL_REPOSITORY_BASE_IMAGE"); fi
  ignore=()
  if [ "$engine" = podman ]; then ignore=(--ignorefile docker/model-repository/Dockerfile.dockerignore); fi
  "${build[@]}" "${ignore[@]}" "${repo_arg[@]}" -f docker/model-repository/Dockerfile -t "$image" .
  timing "$start" "$image"
fi
"$engine" images --filter "reference=$IMAGE_REGISTRY/picloss-*:$IMAGE_TAG"
