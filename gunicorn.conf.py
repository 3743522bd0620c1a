# Gunicorn settings for the web process (see docker-compose.yml).
import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", "4"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
worker_class = "gthread"
timeout = 30
accesslog = "-"
logger_class = "kakaoplugin.gunicorn_logging.RedactingLogger"
# Gunicorn believes X-Forwarded-Proto (wsgi.url_scheme) only from the proxies Django believes
# X-Forwarded-For from: the same TRUSTED_PROXY_CIDRS (default: nobody). The socket's peer is
# what the access log's %(h)s shows.
forwarded_allow_ips = ",".join(c.strip() for c in os.environ.get("TRUSTED_PROXY_CIDRS", "").split(",") if c.strip())
