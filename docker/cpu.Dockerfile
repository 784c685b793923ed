# CPU image: the storage proxy, the dashboard and workers on machines without GPUs. Build from
# the repo root:
#   docker build -f docker/cpu.Dockerfile -t ressearch-cpu:0.1.0 .
FROM python:3.11.11-slim-bookworm

ENV KERAS_BACKEND=tensorflow \
    TF_CPP_MIN_LOG_LEVEL=2 \
    RESSEARCH_ARTIFACTS=/artifacts \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore

# The same uid in both images and in the k8s manifests, so every container can write the shared
# artifact volume. A named volume copies the owner of /artifacts from the image when first mounted.
RUN useradd --create-home --uid 10001 --user-group ressearch \
    && mkdir /artifacts \
    && chown ressearch:ressearch /artifacts

WORKDIR /app
COPY pyproject.toml README.md ./
COPY ressearch/ ressearch/
COPY studies/ studies/
RUN python -m pip install --no-cache-dir .

# Numeric, so Kubernetes can check runAsNonRoot against it.
USER 10001:10001
ENTRYPOINT ["ressearch"]
CMD ["--help"]
