# GPU worker image: `ressearch worker` on TensorFlow's CUDA image. Build from the repo root:
#   docker build -f docker/gpu.Dockerfile -t ressearch-gpu:0.1.0 .
# The base already has TensorFlow 2.20, inside the project's tensorflow>=2.16,<2.22, so pip keeps
# it; the `gpu` extra adds NVIDIA's CUDA wheels where the image lacks them.
FROM tensorflow/tensorflow:2.20.0-gpu

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
# Spelled ./[gpu]: hadolint reads .[gpu] as an unpinned package from PyPI (DL3013), not this folder.
RUN python3 -m pip install --no-cache-dir './[gpu]'

# Numeric, so Kubernetes can check runAsNonRoot against it.
USER 10001:10001
ENTRYPOINT ["ressearch"]
CMD ["--help"]
