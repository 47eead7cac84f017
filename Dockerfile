# Fintalk: the ASGI app under gunicorn with uvicorn workers, as a non-root user.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    GUNICORN_CMD_ARGS="--bind 0.0.0.0:8000 --timeout 120" \
    WEB_CONCURRENCY=2 \
    PROMETHEUS_MULTIPROC_DIR=/tmp/fintalk-metrics

WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt

RUN useradd --create-home --uid 10001 fintalk
COPY --chown=fintalk:fintalk . .
# The console's static files, gathered and gzipped once; whitenoise serves them (no separate web server).
RUN python manage.py collectstatic --noinput -v0
USER fintalk

EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status != 200)"

# The entrypoint applies migrations, then runs the command.
ENTRYPOINT ["./docker-entrypoint.sh"]
CMD ["gunicorn", "fintalk.asgi:application", "-k", "uvicorn_worker.UvicornWorker"]
