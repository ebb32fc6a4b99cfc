# syntax=docker/dockerfile:1
#
# Portal image: one image for web (gunicorn), worker and beat (celery) and the one-shot
# migrate service. See docker-compose.yml; TLS is terminated by the nginx service, never here.
#
#   docker build -t kenshin-portal .

FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PYTHONPATH=/app \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=agency.settings.production \
    STATIC_ROOT=/srv/static \
    STORAGE_DIR=/srv/storage \
    PORTAL_VAR_DIR=/srv/storage/var \
    KENSHIN_XSD_DIR=/srv/mhlw/xsd

# The Pango stack for PDF rendering (WeasyPrint; the Japanese font comes with the code, core/fonts/);
# pg_dump/pg_restore for backups.
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        libpango-1.0-0 \
        libpangoft2-1.0-0 \
        libharfbuzz-subset0 \
        postgresql-client \
    && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 10001 portal \
    && useradd --system --uid 10001 --gid portal --home-dir /nonexistent --no-create-home \
        --shell /usr/sbin/nologin portal \
    && install -d -o portal -g portal -m 0755 /srv/static \
    && install -d -o portal -g portal -m 0750 /srv/storage /srv/storage/var \
    && install -d -m 0755 /srv/mhlw/xsd
# /srv/static   STATIC_ROOT, shared with nginx through a volume (world-readable: nginx runs as another user)
# /srv/storage  received archives (STORAGE_DIR), a volume
# /srv/mhlw/xsd the official MHLW XSD set (KENSHIN_XSD_DIR), mounted read-only by the operator

WORKDIR /app

COPY requirements.lock ./
RUN pip install -r requirements.lock

# Code stays owned by root: the application user can read it but not change it.
COPY . .

USER portal

# Collect static files at build time (the settings need a secret and a database URL to load;
# neither is used by collectstatic). The migrate service collects again into the shared
# volume on every deployment, so nginx always serves the files of the running image.
RUN DJANGO_SECRET_KEY=collectstatic-build-only-not-a-secret-0000000000000000 \
    DATABASE_URL=sqlite:////tmp/collectstatic.sqlite3 \
    python manage.py collectstatic --noinput

EXPOSE 8000

CMD ["gunicorn", "-c", "deploy/gunicorn.conf.py"]
