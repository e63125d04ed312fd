"""Chromium y la UI de Prefect: abrir el navegador, fotografiar y navegar.

No es una lección: lo usan las pruebas del navegador y `imagenes/capturar.py`,
el comando que regenera las capturas. Playwright maneja el Chromium del sistema
(`CHROMIUM_PATH`, por defecto /usr/bin/chromium).
"""

import io
import json
import os
import tempfile
import time
import urllib.parse
import urllib.request
from datetime import datetime, timedelta
from pathlib import Path

from herramientas.servidor import PrefectServer

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
# Sin red: Chromium no debe intentar conectarse a servicios de Google
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
VIEWPORT = {"width": 1400, "height": 850}
TERMINAL_COLUMNS = 110


def launch_browser(playwright):
    """Abrir el Chromium del sistema (Playwright no puede descargar el suyo)."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def terminal_png(page, command: str, output: str, path: Path) -> None:
    """Dibujar una terminal con el comando y su salida real, y guardarla en PNG."""
    from rich.console import Console
    from rich.text import Text

    console = Console(
        record=True,
        width=TERMINAL_COLUMNS,
        file=io.StringIO(),
        force_terminal=True,
        color_system="truecolor",
    )
    console.print(Text(f"$ {command}", style="bold"))
    console.print(Text.from_ansi(output.rstrip()))
    svg = console.export_svg(title="Terminal")
    page.set_content(f"<html><body style='margin:0'>{svg}</body></html>")
    page.locator("svg").screenshot(path=str(path))


def ui_png(
    page,
    url: str,
    wait_for: str,
    path: Path,
    tab: str | None = None,
    full_page: bool = False,
    width: int | None = None,
    height: int | None = None,
) -> None:
    """Abrir una página de la UI, esperar a que muestre `wait_for` y capturarla.

    `width` ensancha la ventana para esta captura (una tabla ancha entera);
    `height` la alarga (lo que la UI muestra debajo del gráfico de una corrida).
    """
    if width or height:
        page.set_viewport_size(
            {
                "width": width or VIEWPORT["width"],
                "height": height or VIEWPORT["height"],
            }
        )
    page.goto(url)
    page.wait_for_load_state("networkidle")
    if tab:
        page.get_by_role("tab", name=tab).click()
    try:
        page.get_by_text(wait_for).filter(visible=True).first.wait_for(timeout=30_000)
    except Exception:
        failed = Path(tempfile.gettempdir()) / f"fallo-{path.name}"
        page.screenshot(path=str(failed))
        print(f"La página no mostró {wait_for!r}; así se veía: {failed}")
        raise
    # El gráfico de una corrida se dibuja en un <canvas>, no en el texto
    if "/flow-run/" in url:
        page.locator("canvas").first.wait_for(timeout=30_000)
    page.wait_for_load_state("networkidle")
    if full_page:
        # Una ventana tan alta como la página: el menú lateral llega hasta abajo
        height = page.evaluate("document.documentElement.scrollHeight")
        page.set_viewport_size({**page.viewport_size, "height": height})
        page.wait_for_load_state("networkidle")
    page.screenshot(path=str(path))
    page.set_viewport_size(VIEWPORT)


def artifact_url(server: PrefectServer, key: str, flow_run_id: str) -> str:
    """La página de la UI del artefacto `key` que publicó una corrida."""
    (artifact,) = server.post(
        "/artifacts/filter",
        {"artifacts": {"key": {"any_": [key]}, "flow_run_id": {"any_": [flow_run_id]}}},
    )
    return f"{server.url}/v2/artifacts/artifact/{artifact['id']}"


def event_feed_url(server: PrefectServer, resource_id: str) -> str:
    """El Event Feed de la UI v2 desde un evento: la llegada y lo que disparó.

    Sin un rango explícito, la página pide los eventos hasta el comienzo del
    minuto en curso: un evento recién emitido aparece al minuto siguiente.
    """
    (arrival,) = server.post(
        "/events/filter",
        {"filter": {"any_resource": {"id": [resource_id]}}},
    )["events"]
    occurred = datetime.fromisoformat(arrival["occurred"])

    def moment(instant: datetime) -> str:  # en milisegundos, truncados
        return instant.isoformat(timespec="milliseconds").replace("+00:00", "Z")

    search = {
        "events": ["restaurante.persona.*", "prefect.automation.*"],
        "order": "ASC",
        "rangeType": "range",
        "start": moment(occurred),
        "end": moment(occurred + timedelta(minutes=1)),
    }
    # El enrutador de la UI lee cada parámetro de la dirección como JSON
    query = urllib.parse.urlencode({k: json.dumps(v) for k, v in search.items()})
    return f"{server.url}/v2/events?{query}"


def wait_for_arrival(
    server: PrefectServer, deployment_id: str, nombre: str, state: str = "Completed"
) -> dict:
    """Esperar a que la corrida que creó la llegada de `nombre` llegue a `state`
    (por defecto, que termine bien; "Paused": que pregunte el postre)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        for run in server.deployment_runs(deployment_id, f"atender-{nombre}"):
            if run["state_name"] == state:
                return run
        time.sleep(0.3)
    raise TimeoutError(f"La llegada de {nombre} no llegó a una corrida {state}")


def choose_dessert(page, server: PrefectServer, run: dict, postre: str, shot=None):
    """Elegir el postre en la UI como quien aprende: menú ⋮, Resume, elegir, Resume.

    Con `shot`, captura el formulario con el postre elegido antes de enviarlo.
    """
    page.goto(f"{server.url}/v2/runs/flow-run/{run['id']}")
    page.get_by_text("Paused").first.wait_for(timeout=30_000)
    page.wait_for_load_state("networkidle")
    page.get_by_role("button", name="Open menu").first.click()
    page.get_by_role("menuitem", name="Resume").click()
    form = page.get_by_role("dialog")
    form.get_by_text("¿Postre para").wait_for(timeout=30_000)  # la pregunta del flow
    form.get_by_role("button", name="Select Postre").click()
    page.get_by_role("option", name=postre).click()
    form.get_by_text(postre).first.wait_for(timeout=10_000)
    if shot:
        page.screenshot(path=str(shot))
    # Con la máquina ocupada, el servidor (SQLite) a veces responde un error a la
    # reanudación y la UI deja el formulario abierto: quien aprende vuelve a hacer
    # clic en Resume, y eso se hace aquí (hasta tres veces)
    resume = f"/flow_runs/{run['id']}/resume"
    for _ in range(3):
        with page.expect_response(lambda r: r.url.endswith(resume)) as answer:
            form.get_by_role("button", name="Resume").click()
        if answer.value.ok:
            break
    else:
        raise AssertionError(f"la UI no reanudó la corrida: {answer.value.status}")
    form.wait_for(state="hidden", timeout=30_000)


def wait_for_state(
    server: PrefectServer, flow_run_name: str, prefix: str, state: str
) -> dict:
    """Esperar a que una task run de una corrida esté en el estado pedido."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        runs = server.post(
            "/flow_runs/filter", {"flow_runs": {"name": {"any_": [flow_run_name]}}}
        )
        for run in runs:
            for task_run in server.task_runs(run["id"]):
                if (
                    task_run["name"].startswith(prefix)
                    and task_run["state_name"] == state
                ):
                    return task_run
        time.sleep(0.2)
    raise TimeoutError(f"Ninguna task {prefix!r} llegó a {state} en {flow_run_name}")
