# Container images (issue 13): docker/Dockerfile, one target per process, built with Docker or podman.
IMAGE_REGISTRY ?= ghcr.io/picloss
IMAGE_TAG ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LOCAL_BASE_IMAGE ?= localhost/picloss-base:bookworm
IMAGE_ENV = IMAGE_REGISTRY=$(IMAGE_REGISTRY) IMAGE_TAG=$(IMAGE_TAG) LOCAL_BASE_IMAGE=$(LOCAL_BASE_IMAGE) \
  BASE_IMAGE=$(BASE_IMAGE) SKIP_MODEL_REPOSITORY=$(SKIP_MODEL_REPOSITORY) REQUIRE_IMAGES=$(REQUIRE_IMAGES) REQUIRE_DOCKER=$(REQUIRE_DOCKER) \
  IMAGE_ENGINE=$(IMAGE_ENGINE) $(if $(IMAGE_PROCESSES),IMAGE_PROCESSES="$(IMAGE_PROCESSES)",)

.PHONY: images images-base images-smoke image-tools
PODMAN_PACKAGES := podman buildah mmdebstrap runc

image-tools: ## without a Docker engine: install podman, buildah, mmdebstrap and runc (Debian packages) when missing
	@docker info >/dev/null 2>&1 || { command -v podman >/dev/null && command -v mmdebstrap >/dev/null && command -v runc >/dev/null; } \
	  || apt-get install -y --no-install-recommends $(PODMAN_PACKAGES) \
	  || { apt-get update && apt-get install -y --no-install-recommends $(PODMAN_PACKAGES); }

images: ## build every image: Docker if `docker info` works, else podman on a local Debian base (REQUIRE_IMAGES=1: neither is an error)
	$(IMAGE_ENV) nice -n 10 docker/build-images.sh

images-base: ## podman: the local python3.11 bookworm base image from Debian packages (mmdebstrap + podman import)
	nice -n 10 docker/base/build-base.sh $(LOCAL_BASE_IMAGE)

images-smoke: $(STAMP) image-tools ## build the images, run the stack from them (host broker and PostgreSQL), one signed SINGLE request and its callback
	$(MAKE) images REQUIRE_IMAGES=1 SKIP_MODEL_REPOSITORY=1
	$(PY) -m bench.images_smoke --registry $(IMAGE_REGISTRY) --tag $(IMAGE_TAG) $(if $(IMAGE_ENGINE),--engine $(IMAGE_ENGINE),)
