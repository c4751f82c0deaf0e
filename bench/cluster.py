"""Several bridge replicas behind the shipped nginx configuration, on loopback.

Used by the multi-replica test and by `make load-replicas`. The nginx configuration is
`deploy/nginx/bridge.conf` and `affinity.js` as shipped; only the addresses are replaced (the
replicas' loopback ports for `server bridge:8000`, a free port for `listen 80`, and the
folder of affinity.js), and a main configuration of our own keeps pid, logs and temporary
files in a work folder.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import socket
from pathlib import Path

import attrs
import httpx

from bench.bench import children, free_port, start_bridge

ROOT = Path(__file__).resolve().parent.parent
NGINX_DIR = ROOT / "deploy" / "nginx"
JS_MODULE_DIRS = (
    "/usr/lib/nginx/modules",
    "/usr/share/nginx/modules",
    "/etc/nginx/modules",
    "/usr/lib64/nginx/modules",
)


def js_module() -> Path:
    """nginx's njs module (Debian: libnginx-mod-http-js)."""
    for folder in JS_MODULE_DIRS:
        candidate = Path(folder) / "ngx_http_js_module.so"
        if candidate.exists():
            return candidate
    raise FileNotFoundError("ngx_http_js_module.so not found: install libnginx-mod-http-js (make nginx)")


def _replace_once(text: str, pattern: str, replacement: str) -> str:
    new, count = re.subn(pattern, lambda _: replacement, text, flags=re.M)
    if count != 1:
        raise ValueError(f"deploy/nginx/bridge.conf: expected one line matching {pattern!r}, found {count}")
    return new


def render_nginx(work: Path, upstreams: list[str], port: int) -> Path:
    """Writes the shipped configuration with these addresses into `work`; returns the main file."""
    work.mkdir(parents=True, exist_ok=True)
    shutil.copy(NGINX_DIR / "affinity.js", work / "affinity.js")
    site = (NGINX_DIR / "bridge.conf").read_text()
    site = _replace_once(site, r"^(\s*)js_path .*;$", f"    js_path {work}/;")
    site = _replace_once(
        site,
        r"^\s*server bridge:8000 (.*);$",
        "\n".join(f"    server {address} max_fails=1 fail_timeout=10s;" for address in upstreams),
    )
    site = _replace_once(site, r"^\s*listen 80;$", f"    listen 127.0.0.1:{port};")
    (work / "bridge.conf").write_text(site)
    temp = {name: work / "tmp" / name for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi")}
    for path in temp.values():
        path.mkdir(parents=True, exist_ok=True)
    main = work / "nginx.conf"
    main.write_text(
        f"load_module {js_module()};\n" + ("user root;\n" if os.geteuid() == 0 else "") + "worker_processes 1;\n"
        f"error_log {work}/error.log warn;\n"
        f"pid {work}/nginx.pid;\n"
        "events { worker_connections 1024; }\n"
        "http {\n"
        "    access_log off;\n"
        + "".join(f"    {name}_temp_path {path};\n" for name, path in temp.items()).replace(
            "body_temp_path", "client_body_temp_path"
        )
        + f"    include {work}/bridge.conf;\n"
        "}\n"
    )
    return main


async def start_nginx(main: Path) -> asyncio.subprocess.Process:
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    check = await asyncio.create_subprocess_exec(
        nginx, "-t", "-q", "-c", str(main), "-p", str(main.parent), stderr=asyncio.subprocess.PIPE
    )
    _, err = await check.communicate()
    if check.returncode != 0:
        raise RuntimeError(f"nginx -t failed: {err.decode()}")
    return await asyncio.create_subprocess_exec(
        nginx, "-c", str(main), "-p", str(main.parent), "-g", "daemon off;", stderr=asyncio.subprocess.PIPE
    )


async def wait_port(port: int, timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while loop.time() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            await asyncio.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")


@attrs.define
class Replica:
    name: str
    proc: asyncio.subprocess.Process
    url: str
    cli_pids: list[int] = attrs.field(factory=list)

    def kill(self) -> None:
        """SIGKILL, as a crashed or OOM-killed replica: nothing of its own is cleaned up."""
        self.cli_pids = children(self.proc.pid)
        self.proc.send_signal(signal.SIGKILL)


@attrs.define
class Cluster:
    replicas: list[Replica]
    nginx: asyncio.subprocess.Process
    url: str
    work: Path

    async def stop(self) -> list[int]:
        """Stops everything; returns the CLI processes that outlived a killed replica."""
        if self.nginx.returncode is None:
            self.nginx.terminate()
            await self.nginx.wait()
        for replica in self.replicas:
            if replica.proc.returncode is None:
                replica.proc.terminate()
        for replica in self.replicas:
            await replica.proc.wait()
        orphans = [pid for r in self.replicas for pid in r.cli_pids if _running(pid)]
        for pid in orphans:
            os.kill(pid, signal.SIGKILL)
        return orphans


def _running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


async def start_cluster(upstream_url: str, replicas: int, pool: int, work: Path, env: dict[str, str]) -> Cluster:
    """Starts the replicas (in parallel) and nginx in front of them; returns once all answer."""

    async def one(index: int) -> Replica:
        name = f"r{index + 1}"
        folder = work / name
        (folder / "home").mkdir(parents=True, exist_ok=True)
        proc, url = await start_bridge(upstream_url, pool, folder, {"REPLICA_ID": name, **env})
        return Replica(name, proc, url)

    started = await asyncio.gather(*(one(i) for i in range(replicas)), return_exceptions=True)
    ready = [r for r in started if isinstance(r, Replica)]
    failed = [r for r in started if isinstance(r, BaseException)]
    if failed:
        for replica in ready:
            replica.proc.terminate()
            await replica.proc.wait()
        raise failed[0]
    port = free_port()
    main = render_nginx(work / "nginx", [r.url.removeprefix("http://") for r in ready], port)
    nginx = await start_nginx(main)
    await wait_port(port)
    cluster = Cluster(ready, nginx, f"http://127.0.0.1:{port}", work)
    async with httpx.AsyncClient(base_url=cluster.url) as http:
        assert (await http.get("/health")).status_code == 200
    return cluster
