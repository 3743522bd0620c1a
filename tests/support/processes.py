"""Helpers of the infrastructure-fault tests (no tests here): a Redis of their own on a spare port
(stopped and started again at will; the shared one is never touched), and our own processes
(gunicorn, a Celery worker, beat) started against it and the test database."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

import requests

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "artifacts"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, *, up: bool = True, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            if up:
                return
        except OSError:
            if not up:
                return
        time.sleep(0.05)
    raise AssertionError(f"port {port} still {'closed' if up else 'open'} after {timeout}s")


def stop(proc: subprocess.Popen | None, *, timeout: float = 20.0) -> None:
    """SIGTERM to the process group (started with ``start_new_session``), SIGKILL after ``timeout``."""
    if proc is None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=timeout)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


class OwnRedis:
    """``redis-server`` on a spare port, without persistence: :meth:`stop` and :meth:`start` again."""

    def __init__(self, workdir: Path):
        self.port = free_port()
        self.workdir = workdir
        self.proc: subprocess.Popen | None = None

    def url(self, db: int) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> OwnRedis:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
        wait_for_port(self.port)
        return self

    def stop(self) -> None:
        stop(self.proc)
        wait_for_port(self.port, up=False)


def spawn(args: list[str], env: dict[str, str], log_name: str) -> subprocess.Popen:
    ARTIFACTS.mkdir(exist_ok=True)
    log = open(ARTIFACTS / log_name, "ab")  # noqa: SIM115 (the child keeps it)
    return subprocess.Popen(
        [sys.executable, *args], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )


def gunicorn(
    env: dict[str, str], port: int, *, workers: int = 1, threads: int = 4, log_name: str = "fault-gunicorn.log"
) -> subprocess.Popen:
    """gunicorn with the production ``gunicorn.conf.py`` on ``port``, once it accepts connections."""
    proc = spawn(
        ["-m", "gunicorn", "config.wsgi", "-c", "gunicorn.conf.py", "--bind", f"127.0.0.1:{port}",
         "--workers", str(workers), "--threads", str(threads)],
        env, log_name,
    )  # fmt: skip
    wait_for_port(port, timeout=60)
    return proc


def celery(env: dict[str, str], *args: str) -> subprocess.Popen:
    return spawn(["-m", "celery", "-A", "config", *args, "--loglevel", "INFO"], env, "fault-celery.log")


class _Response:
    def __init__(self, response: requests.Response):
        self.status_code = response.status_code
        self.headers = response.headers
        self.content = response.content

    def __getitem__(self, name: str) -> str:
        return self.headers[name]

    def json(self):
        return json.loads(self.content)


class HttpClient:
    """The slice of Django's test client the payment kit's Buyer uses, over real HTTP."""

    def __init__(self, base_url: str):
        self.base_url = base_url.rstrip("/")
        self.session = requests.Session()

    @staticmethod
    def _headers(extra: dict[str, str]) -> dict[str, str]:
        return {k.removeprefix("HTTP_").replace("_", "-"): v for k, v in extra.items()}

    def get(self, path: str, params: dict | None = None, **headers) -> _Response:
        url = self.base_url + path + ("?" + urlencode(params) if params else "")
        return _Response(self.session.get(url, headers=self._headers(headers), timeout=30))

    def post(self, path: str, data: dict, content_type: str = "application/json", **headers) -> _Response:
        body = json.dumps(data)
        hdrs = self._headers(headers) | {"Content-Type": content_type}
        return _Response(self.session.post(self.base_url + path, data=body, headers=hdrs, timeout=30))


PG_BIN = Path("/usr/lib/postgresql/15/bin")


class OwnPostgres:
    """A PostgreSQL cluster of the test's own (initdb into a temporary directory, a spare port, no
    fsync): :meth:`stop` and :meth:`start` it at will; the shared one is never touched.  Run as
    the ``postgres`` user when the tests run as root (PostgreSQL refuses root)."""

    def __init__(self):
        import tempfile

        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="kp-faults-pg-"))
        self.data = self.dir / "data"
        self.log = ARTIFACTS / "fault-postgres.log"

    @staticmethod
    def available() -> bool:
        if not (PG_BIN / "initdb").exists():
            return False
        return os.geteuid() != 0 or shutil.which("runuser") is not None

    def _run(self, *args: str) -> None:
        command = [str(PG_BIN / args[0]), *args[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, timeout=120)

    def url(self, name: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{name}"

    def init(self) -> OwnPostgres:
        ARTIFACTS.mkdir(exist_ok=True)
        self.log.touch()
        if os.geteuid() == 0:
            shutil.chown(self.dir, "postgres")
            shutil.chown(self.log, "postgres")
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
        return self.start()

    def start(self) -> OwnPostgres:
        options = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.log), "-w", "start")
        return self

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def remove(self) -> None:
        try:
            self.stop()
        except subprocess.CalledProcessError:
            pass  # not running
        shutil.rmtree(self.dir, ignore_errors=True)


def manage(env: dict[str, str], *args: str) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True, timeout=300)
