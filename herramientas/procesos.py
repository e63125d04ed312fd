"""Procesos de las herramientas: puertos libres, Python desde la raíz, detenerlos.

No es una lección: lo usan las pruebas, las capturas y las mediciones.
"""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port(preferred: int | None = None) -> int:
    """Devolver `preferred` si está libre; si no, un puerto libre cualquiera."""
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", preferred or 0))
        except OSError:
            sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def ctrl_c_works():
    """Para `Popen(preexec_fn=...)`: que el proceso nuevo atienda Ctrl+C (SIGINT).

    Un proceso lanzado en segundo plano por un shell sin control de trabajos (un
    CI, `nohup`) hereda SIGINT ignorado, y Python lo deja así: `serve` y los
    workers no se detendrían con Ctrl+C, como sí lo hacen en la terminal de
    quien aprende. En Windows no hace falta (ni existe preexec_fn).
    """
    if os.name != "posix":
        return None
    return lambda: signal.signal(signal.SIGINT, signal.SIG_DFL)


def stop_process(
    process: subprocess.Popen, first_signal: int, grace: float = 30
) -> None:
    """Detener un proceso y los suyos: primero con una señal y, si en `grace`
    segundos no terminó, a la fuerza."""
    if process.poll() is not None:
        return
    if os.name == "posix":
        os.killpg(process.pid, first_signal)
    else:
        process.terminate()
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        if os.name == "posix":
            os.killpg(process.pid, signal.SIGKILL)
        else:
            process.kill()
        process.wait(timeout=30)


def run_python(
    args: list[str], env: dict[str, str], timeout: float
) -> subprocess.CompletedProcess:
    """Ejecutar Python desde la raíz del repositorio (así vale prefect.toml)."""
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=timeout,
    )


def run_checked(args: list[str], env: dict[str, str], timeout: float) -> str:
    """Ejecutar un script y devolver su salida; si falla, RuntimeError con ella."""
    result = run_python(args, env, timeout)
    output = result.stdout + result.stderr
    if result.returncode != 0:
        raise RuntimeError(
            f"{' '.join(args)} terminó con {result.returncode}:\n{output}"
        )
    return output


def start_logged(
    args: list[str], env: dict[str, str], log_path: Path
) -> subprocess.Popen:
    """Un script de las lecciones sin esperarlo, como en otra terminal, desde
    la raíz del repositorio; su salida queda en `log_path` (`process.log_path`)."""
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, *args],
            cwd=ROOT,
            env={"PYTHONUTF8": "1", **env},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=os.name == "posix",
            preexec_fn=ctrl_c_works(),
        )
    process.log_path = log_path
    return process


def wait_for_line(process: subprocess.Popen, text: str, timeout: float = 60) -> str:
    """Esperar a que el proceso escriba `text` y devolver su salida; si termina
    antes o vence el plazo, AssertionError con lo que escribió."""
    deadline = time.monotonic() + timeout
    while True:
        output = process.log_path.read_text(encoding="utf-8", errors="replace")
        if text in output:
            return output
        if process.poll() is not None or time.monotonic() > deadline:
            raise AssertionError(
                f"Esperé {timeout:g} s la línea {text!r} y no llegó:\n{output}"
            )
        time.sleep(0.2)
