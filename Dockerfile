# DAFX Explorer as a one-command demo:
#   docker build -t dafx-explorer .
#   docker run -p 8501:8501 -v dafx-data:/data -e DAFX_EXPLORER_ADMIN_PASSWORD=… dafx-explorer
# then open http://localhost:8501. Listening-test answers persist in the /data volume.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/venv/bin:$PATH \
    DAFX_EXPLORER_DB=/data/listening.sqlite

WORKDIR /app

# A non-root user; /data (the listening-test database and SQLite's WAL files beside it) belongs to
# it and is a volume, so answers outlive the container.
RUN useradd --create-home --uid 10001 --user-group dafx \
    && mkdir /data \
    && chown dafx:dafx /data
VOLUME /data

# Python packages first (this layer is reused while only the code changes): CPU-only PyTorch
# from PyTorch's wheel index, the rest from PyPI, through the recipe CI also runs.
COPY install.sh requirements.txt ./
RUN bash install.sh --venv /opt/venv --torch-index https://download.pytorch.org/whl/cpu

# The app and the embedded default (trained models, datasets, source clips), owned by root: the
# app's user reads them but cannot change them.
COPY .streamlit/ .streamlit/
COPY app.py ./
COPY app_pages/ app_pages/
COPY dafx_explorer/ dafx_explorer/
COPY precomputed/ precomputed/
# Files written atomically through temporary files may be private (0600) in the build context.
RUN chmod -R a+rX /app

USER dafx

EXPOSE 8501
# slim has no curl: ask Streamlit's health endpoint with Python's urllib (fails on errors and non-2xx).
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8501/_stcore/health', timeout=4)"]
CMD ["streamlit", "run", "app.py", "--server.address=0.0.0.0", "--server.port=8501", "--server.headless=true"]
