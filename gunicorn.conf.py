# Gunicorn settings for the web process (see docker-compose.yml).
import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", "4"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
# gthread, accepting only with a free thread: connections spread over the workers (see the module)
worker_class = "config.gunicorn_worker.BalancedThreadWorker"
timeout = 30
accesslog = "-"
logger_class = "config.gunicorn_logging.RedactingLogger"
# Gunicorn believes X-Forwarded-Proto (wsgi.url_scheme) only from the proxies Django believes
# X-Forwarded-For from: the same TRUSTED_PROXY_CIDRS (default: nobody). The socket's peer is
# what the access log's %(h)s shows.
forwarded_allow_ips = ",".join(c.strip() for c in os.environ.get("TRUSTED_PROXY_CIDRS", "").split(",") if c.strip())

# Metrics (kakaoplugin.metrics): every gunicorn process writes its counters into one directory, so
# one scrape of /metrics sees them all. A fresh directory per start unless the operator names one
# (then it must be emptied before the start, and may be shared with a worker on the same host).
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    import tempfile

    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="kakaoplugin-metrics-")
os.makedirs(os.environ["PROMETHEUS_MULTIPROC_DIR"], exist_ok=True)


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
