"""``simreg serve --workers N``: N uvicorn worker processes on one port, sharing
one database, started together on a fresh one."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from cli_support import start_simreg


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(x) for x in path.read_text().split()] if path.exists() else []


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


@pytest.mark.models  # each worker process builds the engine
def test_serve_with_two_workers_runs_two_server_processes_on_one_port(tmp_path):
    port = _free_port()
    env = {**os.environ, "SIMREG_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
           "SIMREG_KEYRING_FILE": str(tmp_path / "keyring.json"), "SIMREG_ENGINE_WORKERS": "0"}
    proc = start_simreg("serve", "--workers", "2", "--port", str(port),
                        env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        ready = None
        for _ in range(240):  # bounded: at most about two minutes of polling
            if proc.poll() is not None:
                break
            try:
                ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2)
                if ready.status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.5)
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
        assert ready is not None and ready.status_code == 200, ready and ready.text
        workers = [c for c in _children(proc.pid) if "multiprocessing.spawn" in _cmdline(c)]
        assert len(workers) == 2
        # one migration, one keyring for all (each worker checked it at start)
        assert (tmp_path / "keyring.json").is_file()
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_serve_refuses_fewer_than_one_worker(capsys):
    from simreg.cli import main

    assert main(["serve", "--workers", "0"]) == 2
    assert "CONFIG.INVALID" in capsys.readouterr().err
