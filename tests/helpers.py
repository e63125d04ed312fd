"""Ayudas de las pruebas: ejecutar los scripts y leer lo que quedó en Prefect."""

import contextlib
import os
import re
import subprocess
from pathlib import Path

import pytest

from herramientas.servidor import run_python

ROOT = Path(__file__).resolve().parent.parent
# Las seis tasks del ejemplo, en su orden, con los nombres que muestra la UI
RESTAURANT_STEPS = [
    "Recibir a la persona",
    "Asignar mesa",
    "Tomar pedido",
    "Llevar la comida",
    "Cobrar el servicio",
    "Despedir a la persona",
]


def quick_start_link(output: str) -> re.Match:
    """El enlace View at que imprimió el inicio rápido (lo pone prefect.toml)."""
    link = re.search(
        r"View at (http://127\.0\.0\.1:4200/v2)/runs/flow-run/([0-9a-f-]{36})", output
    )
    assert link, output
    return link


def flush_logs() -> None:
    """Esperar a que los logs en cola lleguen al servidor antes de leerlos."""
    from prefect.logging.handlers import APILogHandler

    APILogHandler().flush()


def run_script(
    *args: str,
    home: Path,
    api_url: str | None = None,
    timeout: float = 180,
    unset: list[str] | tuple[str, ...] = (),
    **extra_env: str,
) -> subprocess.CompletedProcess:
    """Ejecutar un script como lo haría quien aprende, con su propio PREFECT_HOME.

    `unset` quita variables del entorno de las pruebas (por ejemplo, para que
    valga lo que dice el prefect.toml del repositorio).
    """
    env = {**os.environ, "PREFECT_HOME": str(home), "PYTHONUTF8": "1", **extra_env}
    for name in ("PREFECT_API_URL", *unset):
        env.pop(name, None)
    if api_url:
        env["PREFECT_API_URL"] = api_url
    return run_python(list(args), env, timeout)


def prefect_cli(server, *args: str) -> subprocess.CompletedProcess:
    """La CLI de Prefect (`prefect ...`) contra un servidor de las pruebas."""
    return run_script(
        "-m", "prefect", *args, home=server.home, api_url=server.api_url, timeout=120
    )


def eventually(read, done, timeout: float = 20, every: float = 0.2):
    """Leer hasta que `done(valor)` se cumpla: Prefect registra las task runs por
    eventos, así que llegan al servidor un instante después de terminar."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if done(value) or time.monotonic() > deadline:
            return value
        time.sleep(every)


def task_runs(client, flow_run_id, expected: int = 0):
    """Leer las task runs de un flow run en el orden en que empezaron, esperando
    a que lleguen al menos `expected` y todas en un estado final."""
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
    from prefect.client.schemas.sorting import TaskRunSort

    run_filter = FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
    return eventually(
        lambda: client.read_task_runs(
            flow_run_filter=run_filter, sort=TaskRunSort.EXPECTED_START_TIME_ASC
        ),
        lambda runs: (
            len(runs) >= expected and all(t.state and t.state.is_final() for t in runs)
        ),
    )


def announce(server, *args: str, home: Path | None = None, **extra_env: str):
    """Anunciar una llegada con el script de la lección, contra un servidor real.

    Sin `--postre`, el grupo lo elige en la puerta ("ninguno"): así la corrida no
    queda en pausa esperando a alguien en la UI. Las pruebas del postre lo dicen.
    """
    if "--postre" not in args:
        args = (*args, "--postre", "ninguno")
    result = run_script(
        "restaurant/anunciar_llegada.py",
        *args,
        home=home or server.home,
        api_url=server.api_url,
        **extra_env,
    )
    assert result.returncode == 0, result.stderr
    return result


def normalized_tables(text: str) -> str:
    """Quitar el número de mesa, que depende de quién llegó antes a cada una."""
    return re.sub(r"mesa \d+", "mesa N", text)


@contextlib.contextmanager
def chromium_browser():
    """Abrir el Chromium del sistema. Sin Chromium o sin playwright, la prueba se
    salta con el motivo; con CI=true falla, para que CI nunca pase saltándola."""
    from imagenes import capturar

    reason = None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        reason = "falta playwright: pip install -r requirements-dev.txt"
    if reason is None and not Path(capturar.CHROMIUM).exists():
        reason = f"falta Chromium en {capturar.CHROMIUM}: apt-get install chromium"
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason} (en CI las pruebas del navegador no se saltan)")
        pytest.skip(reason)
    with sync_playwright() as playwright:
        browser = capturar.launch_browser(playwright)
        try:
            yield browser
        finally:
            browser.close()
