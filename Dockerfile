# newsfacts API image. Stage 1 builds the project and every dependency as wheels; stage 2 installs
# only those wheels into a slim image and runs as an unprivileged user. The embedded PostgreSQL/Redis
# are for development: in a container, set DATABASE_URL and REDIS_URL (see docker-compose.yml).

FROM python:3.11-slim AS build
WORKDIR /src
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN pip install build
COPY pyproject.toml README.md ./
COPY api ./api
COPY schema ./schema
COPY db ./db
RUN python -m build --wheel --outdir /wheels . \
 && pip wheel --wheel-dir /wheels /wheels/newsfacts-*.whl

FROM python:3.11-slim AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    HOST=0.0.0.0 \
    PORT=8000 \
    ENVIRONMENT=production \
    DATA_DIR=/home/newsfacts/data
RUN useradd --system --uid 10001 --user-group --create-home --home-dir /home/newsfacts newsfacts
COPY --from=build /wheels /tmp/wheels
# --no-index: the image gets exactly the wheels built above, nothing fetched at this stage.
RUN pip install --no-index --find-links=/tmp/wheels newsfacts && rm -rf /tmp/wheels
# api/docs.py reads the REST contract from <package parent>/openapi/, which a wheel does not carry.
COPY openapi/openapi.yaml /usr/local/lib/python3.11/site-packages/openapi/openapi.yaml
USER newsfacts
WORKDIR /home/newsfacts
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '8000'), timeout=2)"]
CMD ["newsfacts", "serve"]
