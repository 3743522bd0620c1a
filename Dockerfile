FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
RUN useradd --create-home --uid 1000 app
# msgfmt (GNU gettext) compiles the Korean catalogue, locale/ko/LC_MESSAGES/django.po
RUN apt-get update && apt-get install -y --no-install-recommends gettext && rm -rf /var/lib/apt/lists/*
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
RUN DEBUG=false SECRET_KEY=build-only FIELD_ENCRYPTION_KEY=build-only DATABASE_URL=sqlite:////tmp/build.sqlite3 \
    python manage.py collectstatic --noinput -v0 \
    && PYTHON=python bin/messages compile && chown -R app /app \
    && mkdir -p /data/media && chown app /data/media
# /data/media is the media volume's mount point: a new named volume takes this owner, so the app
# user can write secure images into it.
USER app
EXPOSE 8000
CMD ["gunicorn", "-c", "gunicorn.conf.py", "config.wsgi:application"]
