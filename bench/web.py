"""Web latency: the dashboard and a pot's page under concurrent signed-in clients.

The app runs under gunicorn (``web:create_app()``), the production WSGI server the README
recommends, with its sync workers (``--workers``; ``--threads`` above 1 makes them gthread). Each
client is a thread with its own connection and session cookie: it signs in through the real form
(CSRF token and all), warms up (until the clients together have requested each page twice per
worker thread, so no worker serves its first page in the measurement), waits for the others,
then requests the dashboard and the pot page in turn ``rounds`` times. Latency is measured from
sending the request to having read the whole body, so it includes any time queued for a free
worker.
"""

from __future__ import annotations

import http.client
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from bench.measure import StepFailed, percentile, run_child

USERNAME = "bench-web"
ROLE = "officer"
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"|value="([^"]+)"[^>]*name="csrf_token"')


@dataclass(frozen=True)
class PageStats:
    page: str
    path: str
    requests: int
    p50_ms: float
    p95_ms: float
    max_ms: float
    bytes: int


@dataclass(frozen=True)
class WebResult:
    workers: int
    threads: int
    clients: int
    rounds: int
    pages: list[PageStats]
    seconds: float
    requests: int

    @property
    def requests_per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


class Client:
    """One browser: a keep-alive connection (reopened when the server closes it) and cookies."""

    def __init__(self, port: int) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, body: str | None = None) -> tuple[int, str, bytes]:
        headers = {"Host": "127.0.0.1", "User-Agent": "commonpurse-bench"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        try:
            self.connection.request(method, path, body=body, headers=headers)
            response = self.connection.getresponse()
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            self.connection.close()  # the server closed a kept-alive connection: once more
            self.connection.request(method, path, body=body, headers=headers)
            response = self.connection.getresponse()
        data = response.read()
        for header in response.headers.get_all("Set-Cookie") or []:
            name, _, value = header.split(";", 1)[0].partition("=")
            self.cookies[name.strip()] = value.strip()
        return response.status, response.headers.get("Location", ""), data

    def sign_in(self, password: str) -> None:
        status, _, page = self.request("GET", "/login")
        match = CSRF.search(page.decode("utf-8", "replace"))
        if status != 200 or match is None:
            raise StepFailed(f"the sign-in page answered {status} without a CSRF token")
        token = match.group(1) or match.group(2)
        form = urllib.parse.urlencode(
            {"csrf_token": token, "username": USERNAME, "password": password}
        )
        status, _, _ = self.request("POST", "/login", form)
        if status != 302:
            raise StepFailed(f"signing in answered {status}, not a redirect")

    def close(self) -> None:
        self.connection.close()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def gunicorn_command() -> list[str]:
    beside = Path(sys.executable).parent / "gunicorn"
    return [str(beside)] if beside.exists() else [sys.executable, "-m", "gunicorn"]


def product_root() -> Path:
    """The folder holding the ``web`` package, for gunicorn's ``--chdir``."""
    import web

    return Path(web.__file__).resolve().parent.parent


def add_user(commonpurse: Sequence[str], url: str, env: dict[str, str]) -> str:
    password = secrets.token_urlsafe(18)
    run_child(
        [*commonpurse, "--db", url, "user", "add", USERNAME, "--role", ROLE, "--password-stdin"],
        env=env,
        stdin=password + "\n",
    ).check("commonpurse user add")
    return password


def run_web(
    *,
    url: str,
    commonpurse: Sequence[str],
    env: dict[str, str],
    pages: Sequence[tuple[str, str]],
    clients: int,
    rounds: int,
    workers: int,
    threads: int,
    log: Path,
    expect: dict[str, str],
) -> WebResult:
    """Serve the ledger at ``url`` with gunicorn and measure ``pages`` ((name, path) pairs);
    ``expect`` maps a page name to text its body must contain."""
    password = add_user(commonpurse, url, env)
    port = free_port()
    server_env = dict(env)
    server_env.update(
        COMMONPURSE_DATABASE_URL=url,
        COMMONPURSE_SECRET_KEY=secrets.token_hex(32),
        COMMONPURSE_COOKIE_SECURE="0",
    )
    argv = [
        *gunicorn_command(),
        "--workers",
        str(workers),
        "--threads",
        str(threads),
        "--bind",
        f"127.0.0.1:{port}",
        "--chdir",
        str(product_root()),
        "--log-level",
        "warning",
        "--timeout",
        "120",
        "web:create_app()",
    ]
    with log.open("wb") as log_file:
        server = subprocess.Popen(argv, env=server_env, stdout=log_file, stderr=log_file)
        try:
            _wait_until_up(server, port, log)
            return _measure(port, password, pages, clients, rounds, workers, threads, expect)
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def _wait_until_up(server: subprocess.Popen[bytes], port: int, log: Path) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if server.poll() is not None:
            tail = log.read_text(errors="replace").strip().splitlines()[-8:]
            raise StepFailed("gunicorn stopped: " + " | ".join(tail))
        try:
            client = Client(port)
            status, _, _ = client.request("GET", "/login")
            client.close()
            if status == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise StepFailed("gunicorn did not answer within 90 s")


def _measure(
    port: int,
    password: str,
    pages: Sequence[tuple[str, str]],
    clients: int,
    rounds: int,
    workers: int,
    threads: int,
    expect: dict[str, str],
) -> WebResult:
    timings: dict[str, list[float]] = {name: [] for name, _ in pages}
    warmup = max(1, -(-2 * workers * threads // clients))
    sizes: dict[str, int] = {}
    problems: list[str] = []
    lock = threading.Lock()
    ready = threading.Barrier(clients + 1)
    done = threading.Barrier(clients + 1)

    def client_thread() -> None:
        client = Client(port)
        mine: dict[str, list[float]] = {name: [] for name, _ in pages}
        try:
            client.sign_in(password)
            for _ in range(warmup):  # not counted; enough for every worker to have served
                for name, path in pages:
                    _get(client, name, path, expect, sizes, lock)
        except Exception as error:
            with lock:
                problems.append(str(error))
        try:
            ready.wait()
            if not problems:
                for _ in range(rounds):
                    for name, path in pages:
                        started = time.perf_counter()
                        _get(client, name, path, expect, sizes, lock)
                        mine[name].append(time.perf_counter() - started)
        except Exception as error:
            with lock:
                problems.append(str(error))
        finally:
            client.close()
            with lock:
                for name, values in mine.items():
                    timings[name].extend(values)
            done.wait()

    threads_list = [threading.Thread(target=client_thread, daemon=True) for _ in range(clients)]
    for thread in threads_list:
        thread.start()
    ready.wait()
    started = time.perf_counter()
    done.wait()
    seconds = time.perf_counter() - started
    for thread in threads_list:
        thread.join()
    if problems:
        raise StepFailed(f"{len(problems)} web client problem(s), first: {problems[0]}")
    stats = []
    for name, path in pages:
        values = timings[name]
        stats.append(
            PageStats(
                page=name,
                path=path,
                requests=len(values),
                p50_ms=percentile(values, 0.50) * 1000,
                p95_ms=percentile(values, 0.95) * 1000,
                max_ms=max(values) * 1000 if values else float("nan"),
                bytes=sizes.get(name, 0),
            )
        )
    return WebResult(
        workers=workers,
        threads=threads,
        clients=clients,
        rounds=rounds,
        pages=stats,
        seconds=seconds,
        requests=sum(s.requests for s in stats),
    )


def _get(
    client: Client,
    name: str,
    path: str,
    expect: dict[str, str],
    sizes: dict[str, int],
    lock: threading.Lock,
) -> None:
    status, location, body = client.request("GET", path)
    if status != 200:
        raise StepFailed(f"{name} ({path}) answered {status} {location}".strip())
    wanted = expect.get(name)
    if wanted and wanted.encode() not in body:
        raise StepFailed(f"{name} ({path}) does not show {wanted!r}")
    with lock:
        sizes[name] = len(body)


def default_workers() -> int:
    """gunicorn's rule of thumb: two per core, plus one."""
    return 2 * (os.cpu_count() or 1) + 1
