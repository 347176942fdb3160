# The publication as one immutable image: pinned Python packages, the code, and the databases baked in at build time.
#   make build && docker build -t london-commissioning-data .      (or: make docker)
#   docker run -p 8001:8001 london-commissioning-data
# Every replica started from the same image serves byte-identical data (same inspect hashes), so the image can be
# run as many times as needed behind any load balancer; nothing is written at run time.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PYTHONPATH=/app PORT=8001
WORKDIR /app

COPY pyproject.toml ./
COPY scripts/requirements.py scripts/requirements.py
RUN python scripts/requirements.py > /tmp/requirements.txt \
    && pip install --no-cache-dir --disable-pip-version-check -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

# Serving only (issue 16): scripts/site.py and the shared helpers in scripts/common/; no build code
# (scripts/publication/) and no data/ (tests/test_served_from_build.py serves every page from this file set).
COPY scripts/__init__.py scripts/site.py scripts/
COPY scripts/common/ scripts/common/
COPY plugins/ plugins/
COPY templates/ templates/
COPY static/ static/
COPY build/commissioning.db build/synthetic_demo.db build/inspect-data.json build/metadata.json build/

RUN useradd --system --no-create-home publication && chmod -R a-w /app
USER publication
EXPOSE 8001
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request,os; urllib.request.urlopen(f'http://127.0.0.1:{os.environ[\"PORT\"]}/-/versions.json', timeout=4)"
CMD ["sh", "-c", "exec python -m scripts.site -h 0.0.0.0 -p ${PORT}"]
