"""Regenerar todas las capturas de imagenes/ desde la UI real de Prefect.

Levanta su propio `prefect server start` (en el puerto 4200 si está libre, con un
PREFECT_HOME temporal), ejecuta las lecciones como lo haría quien aprende y
fotografía la terminal y la UI con Chromium. Uso: ``python imagenes/capturar.py``
(necesita requirements-dev.txt y Chromium: ver "Regenerar las capturas").
"""

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # para `herramientas`, al ejecutar este script

from herramientas.documentos import (  # noqa: E402
    readme_lines,
    readme_protected_settings,
)
from herramientas.navegador import (  # noqa: E402
    CHROMIUM,
    VIEWPORT,
    artifact_url,
    choose_dessert,
    event_feed_url,
    launch_browser,
    terminal_png,
    ui_png,
    wait_for_arrival,
    wait_for_state,
)
from herramientas.procesos import wait_for_line  # noqa: E402
from herramientas.s3_local import LocalS3  # noqa: E402
from herramientas.servidor import (  # noqa: E402
    PrefectServer,
    free_port,
    manager_phone,
    quick_start,
    run_lesson,
)

IMAGES = ROOT / "imagenes"
MANIFEST = IMAGES / "capturas.json"
# Nombre de archivo -> qué muestra. Los seis primeros son los del texto original.
CAPTURES = {
    "prefect start.png": "terminal con `prefect server start` y su dirección",
    "prefect navegador.png": "la UI recién abierta, con la corrida del inicio rápido",
    "terminal run_iris.png": "terminal con `python introduction/run_iris.py`",
    "navegador flow runs run_iris.png": "la página Runs con las corridas de Iris",
    "detalle flow runs run_iris.png": "el flow iris-classification y sus corridas",
    "mas detalle flow run_iris.png": "una corrida: gráfico de tasks, duración, logs",
    "iris-artefactos.png": "la pestaña Artifacts de una corrida de Iris",
    "busqueda-grafico.png": "buscar-modelo: una task por candidato, a la vez",
    "busqueda-cache.png": "la segunda búsqueda: sus 9 task runs en Cached",
    "busqueda-artefacto.png": "la tabla que compara los candidatos",
    "restaurante-reintento.png": "la task Cocinar en estado Retrying",
    "restaurante-grafico.png": "atender-persona con sus subflows preparar-plato",
    "restaurante-cuenta.png": "el artefacto de la cuenta",
    "cobro-anulado.png": "la impresora trabada: el rollback anula la reserva",
    "variable-atasco.png": "la página Variables con atasco-impresora en 1",
    "bloque-secret.png": "el bloque Secret clave-s3, con su valor oculto",
    "cocina-cola-grafico.png": "atender-Ana con cada plato y su cocinero",
    "cocina-cola-concurrency.png": "la página Concurrency: proveedor y tag:horno",
    "gerente-automations.png": "la página Automations: las tres del gerente",
    "gerente-crashed.png": "atender-Zoe marcada Crashed por corrida-sin-latidos",
    "gerente-terminal.png": "la terminal del gerente con sus tres avisos",
    "cron-deployment.png": "el deployment iris-diario con su horario cron",
    "automatizacion-llegada.png": "el disparador llegada-de-una-persona",
    "evento-llegada.png": "el Event Feed: la llegada y la automatización que disparó",
    "corrida-disparada.png": "la corrida de atender-persona creada por el evento",
    "postre-formulario.png": "la corrida en pausa: el formulario del postre",
    "postre-subflow.png": "la corrida reanudada, con el subflow del postre",
    "work-pool-workers.png": "el work pool restaurante con sus dos workers",
    "servidor-login.png": "la UI de un servidor con contraseña: la página Login",
}


def wait_for_paused(server: PrefectServer, name: str) -> dict:
    """Esperar a que la corrida `name` esté en pausa (preguntando el postre)."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        body = {"flow_runs": {"name": {"any_": [name]}}}
        for run in server.post("/flow_runs/filter", body):
            if run["state_name"] == "Paused":
                return run
        time.sleep(0.3)
    raise TimeoutError(f"La corrida {name} no quedó en pausa")


def wait_for_scheduled(server: PrefectServer, deployment_id: str) -> dict:
    """Esperar la primera corrida programada (Scheduled) de un deployment."""
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        runs = [
            run
            for run in server.deployment_runs(deployment_id)
            if run["state_type"] == "SCHEDULED"
        ]
        if runs:
            return min(runs, key=lambda run: run["expected_start_time"])
        time.sleep(1)
    raise TimeoutError("El servidor no programó ninguna corrida del deployment")


def login_png(page, url: str, path: Path) -> None:
    """Capturar la página Login recortada a su formulario (el resto está vacío)."""
    page.goto(url)
    button = page.get_by_role("button", name="Login")
    button.wait_for(timeout=30_000)
    page.wait_for_load_state("networkidle")
    field = page.locator("input").first
    boxes = [button.bounding_box(), field.bounding_box()]
    left = min(b["x"] for b in boxes) - 160
    top = min(b["y"] for b in boxes) - 160
    right = max(b["x"] + b["width"] for b in boxes) + 160
    bottom = max(b["y"] + b["height"] for b in boxes) + 80
    clip = {
        "x": max(left, 0),
        "y": max(top, 0),
        "width": right - max(left, 0),
        "height": bottom - max(top, 0),
    }
    page.screenshot(path=str(path), clip=clip)


def capture_all(home: Path, port: int) -> dict:
    """Levantar el servidor, ejecutar las lecciones y escribir cada imagen."""
    import prefect
    from playwright.sync_api import sync_playwright

    shots: dict[str, Path] = {name: IMAGES / name for name in CAPTURES}
    # El orden del README: primero el inicio rápido, con el servidor temporal y
    # en el mismo PREFECT_HOME; después `prefect server start`, que ya la muestra
    quick_start(home)
    # El Dashboard cuenta las corridas hasta el comienzo del minuto en curso
    time.sleep(61 - datetime.now().second)
    with PrefectServer(home, port) as server, sync_playwright() as playwright:
        browser = launch_browser(playwright)
        page = browser.new_page(viewport=VIEWPORT)
        terminal = browser.new_page(viewport={"width": 1000, "height": 400})

        deadline = time.monotonic() + 30
        while "Check out the dashboard" not in server.output():
            if time.monotonic() > deadline:
                raise TimeoutError("El servidor no mostró su dirección")
            time.sleep(0.2)
        banner = server.output().split("INFO:")[0]
        terminal_png(
            terminal, " ".join(server.command()), banner, shots["prefect start.png"]
        )
        ui_png(
            page,
            f"{server.url}/v2/dashboard",
            "1 total",  # la corrida del inicio rápido
            shots["prefect navegador.png"],
        )

        iris_output = run_lesson(server, "introduction/run_iris.py")
        run_lesson(server, "introduction/run_iris.py")
        terminal_png(
            terminal,
            "python introduction/run_iris.py",
            iris_output,
            shots["terminal run_iris.png"],
        )
        latest, first = server.flow_runs("iris-classification")[:2]
        ui_png(
            page,
            f"{server.url}/v2/runs",
            latest["name"],
            shots["navegador flow runs run_iris.png"],
            full_page=True,  # las tres corridas enteras
        )
        ui_png(
            page,
            f"{server.url}/v2/flows/flow/{latest['flow_id']}",
            first["name"],
            shots["detalle flow runs run_iris.png"],
        )
        ui_png(
            page,
            f"{server.url}/v2/runs/flow-run/{latest['id']}",
            "Exactitud (accuracy)",
            shots["mas detalle flow run_iris.png"],
        )
        ui_png(
            page,
            f"{server.url}/v2/runs/flow-run/{latest['id']}",
            "iris-matriz-confusion",
            shots["iris-artefactos.png"],
            tab="Artifacts",
            full_page=True,  # los artefactos están debajo del gráfico
        )

        # La búsqueda de modelos dos veces: la segunda sale de la caché
        run_lesson(server, "introduction/buscar_modelo.py")
        run_lesson(server, "introduction/buscar_modelo.py")
        cached, searched = server.flow_runs("buscar-modelo")[:2]
        ui_png(
            page,
            f"{server.url}/v2/runs/flow-run/{searched['id']}",
            "Ganador: regresion_logistica C=10.0",
            shots["busqueda-grafico.png"],
        )
        ui_png(
            page,
            f"{server.url}/v2/runs/flow-run/{cached['id']}",
            "(9 Cached)",
            shots["busqueda-cache.png"],
            tab="Task Runs",
        )
        ui_png(
            page,
            artifact_url(server, "iris-busqueda-modelos", searched["id"]),
            "Gana regresion_logistica C=10.0",
            shots["busqueda-artefacto.png"],
            width=1900,  # la tabla entera, hasta la última columna
        )

        # El paso 2 del capítulo 5, en tiempo real (escala 1): el segundo intento
        # de cocinar la milanesa dura 5 s, de sobra para fotografiar el Retrying
        restaurant = subprocess.Popen(
            [sys.executable, "restaurant/paso2_cocina.py"],
            cwd=ROOT,
            env=server.env(
                PREFECT_API_URL=server.api_url, RESTAURANTE_ESCALA_TIEMPO="1"
            ),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        try:
            cook = wait_for_state(
                server, "preparar-Ana-2-Milanesa con papas", "Cocinar", "Retrying"
            )
            ui_png(
                page,
                f"{server.url}/v2/runs/task-run/{cook['id']}",
                "Retrying",
                shots["restaurante-reintento.png"],
            )
        finally:
            output, _ = restaurant.communicate(timeout=300)
        if restaurant.returncode != 0:
            raise RuntimeError(f"paso2_cocina.py falló:\n{output.decode()}")
        (party,) = server.flow_runs("atender-persona")
        ui_png(
            page,
            f"{server.url}/v2/runs/flow-run/{party['id']}",
            "Bienvenida, Ana: mesa para 3, por favor.",
            shots["restaurante-grafico.png"],
        )
        # La cuenta: el paso 3
        run_lesson(server, "restaurant/paso3_cuenta.py", RESTAURANTE_ESCALA_TIEMPO="0")
        billed = server.flow_runs("atender-persona")[0]
        ui_png(
            page,
            artifact_url(server, "cuenta", billed["id"]),
            "$25.15",
            shots["restaurante-cuenta.png"],
        )
        # La cuenta bien cobrada (capítulo 10): con la impresora trabada, el hook
        # on_rollback anula la reserva; la corrida termina en Failed
        jammed = subprocess.run(
            [sys.executable, "restaurant/paso8_cobro.py", "--comanda", "18"]
            + ["--atasco", "1"],
            cwd=ROOT,
            env=server.env(
                PREFECT_API_URL=server.api_url, RESTAURANTE_ESCALA_TIEMPO="0"
            ),
            capture_output=True,
            text=True,
            timeout=300,
        )
        if jammed.returncode != 1 or "No se pudo cobrar" not in jammed.stderr:
            raise RuntimeError(f"paso8_cobro.py no se trabó:\n{jammed.stderr}")
        voided = server.flow_runs("atender-persona")[0]
        ui_png(
            page,
            f"{server.url}/v2/runs/flow-run/{voided['id']}",
            "Cobro anulado: la comanda 18 no se cobra.",
            shots["cobro-anulado.png"],
        )
        # La Variable del día, después del primer comando del capítulo; al
        # final, el comando que la borra
        (jam,) = [c for c in readme_lines("prefect variable set ") if c[4] == "1"]
        run_lesson(server, "-m", "prefect", *jam[1:])
        ui_png(page, f"{server.url}/v2/variables", jam[3], shots["variable-atasco.png"])
        unset = readme_lines("prefect --no-prompt variable unset ")[0]  # cap. 10 y 14
        run_lesson(server, "-m", "prefect", *unset[1:])
        # El almacén de la caché: moto y los dos bloques, con el comando del
        # capítulo (la clave, como la escribe quien aprende)
        with LocalS3(home) as s3:
            (save,) = readme_lines("python introduction/guardar_almacen.py ")
            save = [arg.replace("127.0.0.1:9000", s3.endpoint[7:]) for arg in save]
            run_lesson(server, *save[1:], S3_CLAVE_SECRETA="moto")
        (secret,) = server.post(
            "/block_documents/filter",
            {"block_documents": {"name": {"any_": ["clave-s3"]}}},
        )
        ui_png(
            page,
            f"{server.url}/v2/blocks/block/{secret['id']}",
            "clave-s3",
            shots["bloque-secret.png"],
        )
        # La cocina como cola (capítulo 11): los dos límites, los dos cocineros y
        # el grupo de Ana, con los comandos del capítulo
        for limit in readme_lines("prefect gcl create proveedor ") + readme_lines(
            "prefect concurrency-limit create horno "
        ):
            run_lesson(server, "-m", "prefect", *limit[1:])
        cooks = [
            c
            for c in readme_lines("python restaurant/cocineros.py ")
            if c[4:] == ["--limite", "2"]
        ]
        with contextlib.ExitStack() as kitchen:
            for cook in cooks:
                kitchen.enter_context(server.cook(cook[3], *cook[4:]))
            (party,) = [
                c
                for c in readme_lines("python restaurant/paso9_cocina_cola.py ")
                if "Ana" in c
            ]
            run_lesson(server, *party[1:])
        queued = server.flow_runs("atender-persona")[0]
        ui_png(
            page,
            f"{server.url}/v2/runs/flow-run/{queued['id']}",
            "Bienvenida, Ana",
            shots["cocina-cola-grafico.png"],
        )
        ui_png(
            page,
            f"{server.url}/v2/concurrency-limits",
            "tag:horno",
            shots["cocina-cola-concurrency.png"],
        )
        capture_the_manager(server, page, terminal, shots)

        with server.serving("introduction/serve_iris.py"):
            cron = server.deployment("iris-classification/iris-diario")
            # Las próximas corridas las crea el servidor unos segundos después
            upcoming = wait_for_scheduled(server, cron["id"])
            ui_png(
                page,
                f"{server.url}/v2/deployments/deployment/{cron['id']}",
                upcoming["name"],  # en la pestaña Upcoming
                shots["cron-deployment.png"],
                tab="Upcoming",
            )
        with server.serving(
            "restaurant/serve_restaurant.py", RESTAURANTE_ESCALA_TIEMPO="0.2"
        ):
            arrivals = server.deployment("atender-persona/llegadas")
            # La llegada de Carla, con el comando del capítulo 8
            (emit,) = readme_lines("prefect event emit ")
            run_lesson(server, "-m", "prefect", *emit[1:])
            triggered = wait_for_arrival(server, arrivals["id"], "Carla")
        ui_png(
            page,
            f"{server.url}/v2/automations",
            "llegada-de-una-persona",
            shots["automatizacion-llegada.png"],
        )
        ui_png(
            page,
            event_feed_url(server, "restaurante.persona.carla"),
            "Action Executed",
            shots["evento-llegada.png"],
            full_page=True,  # la llegada y, debajo, los tres pasos que disparó
        )
        ui_png(
            page,
            f"{server.url}/v2/runs/flow-run/{triggered['id']}",
            "llegadas",
            shots["corrida-disparada.png"],
            tab="Details",
        )
        # El postre, como en el capítulo 7: el script pregunta y la corrida queda
        # en pausa hasta que se elige en el formulario de la UI
        (ask,) = readme_lines("python restaurant/paso6_postre.py --postre preguntar")
        dessert = subprocess.Popen(
            [sys.executable, *ask[1:]],
            cwd=ROOT,
            env=server.env(
                PREFECT_API_URL=server.api_url, RESTAURANTE_ESCALA_TIEMPO="0.2"
            ),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        try:
            paused = wait_for_paused(server, "atender-Ana")
            choose_dessert(
                page,
                server,
                paused,
                "Helado de chocolate",
                shots["postre-formulario.png"],
            )
        finally:
            output, _ = dessert.communicate(timeout=300)
        if dessert.returncode != 0:
            raise RuntimeError(f"paso6_postre.py falló:\n{output.decode()}")
        ui_png(
            page,
            f"{server.url}/v2/runs/flow-run/{paused['id']}",
            "preparar-Ana-4-Helado de chocolate",
            shots["postre-subflow.png"],
            tab="Subflow Runs",
            full_page=True,  # los cuatro subflows enteros
        )

        # Workers: el pool, el deployment y los dos workers del README
        (create,) = readme_lines("prefect work-pool create ")
        run_lesson(server, "-m", "prefect", *create[1:])
        run_lesson(server, "restaurant/desplegar_restaurante.py")
        with server.workers(RESTAURANTE_ESCALA_TIEMPO="0.2"):
            run_lesson(
                server,
                "restaurant/anunciar_llegada.py",
                *("--nombre", "Diego", "--personas", "2", "--plato", "Ravioles"),
                *("--postre", "ninguno"),
            )
            wait_for_arrival(server, arrivals["id"], "Diego")
            ui_png(
                page,
                f"{server.url}/v2/work-pools/work-pool/restaurante",
                "mozo-2",
                shots["work-pool-workers.png"],
                tab="Workers",
            )

        # Un servidor con contraseña, abierto como en el README
        with PrefectServer(
            home / "protegido", free_port(), **readme_protected_settings()
        ) as locked:
            login_png(page, f"{locked.url}/v2", shots["servidor-login.png"])
        chromium_version = browser.version
        browser.close()

    return {
        "prefect": prefect.__version__,
        "chromium": chromium_version,
        "fecha": date.today().isoformat(),
        "imagenes": CAPTURES,
    }


def capture_the_manager(server, page, terminal, shots: dict[str, Path]) -> None:
    """El capítulo 12: el teléfono del gerente, sus automations, un plato que no
    sale, un grupo sin mesa y una corrida cortada, con los comandos del capítulo."""
    port = free_port(8765)
    with manager_phone(server.home, port) as phone:
        run_lesson(server, "restaurant/avisar_al_gerente.py", "--puerto", str(port))
        ui_png(
            page,
            f"{server.url}/v2/automations",
            "corrida-sin-latidos",
            shots["gerente-automations.png"],
        )

        def chapter(having: str) -> list[str]:
            lines = readme_lines("python restaurant/paso10_gerente.py ")
            return [c for c in lines if having in c][0][1:]

        (beto,) = {
            tuple(c)
            for c in readme_lines("python restaurant/cocineros.py ")
            if "--sin-stock" in c
        }
        with server.cook(*beto[3:]):
            run_lesson(server, *chapter("Ana"))
            # Hugo ocupa la mesa de 6 y Zoe la 3; Iris espera mesa
            hugo = server.in_background(*chapter("Hugo"), name="hugo")
            wait_for_line(hugo, "La corrida queda en pausa")
            iris = server.in_background(*chapter("Iris"), name="iris")
            zoe = server.in_background(*chapter("Zoe"), name="zoe")
            wait_for_line(zoe, "Zoe ya está en la mesa")
            os.killpg(zoe.pid, signal.SIGKILL)  # el pkill -9 del capítulo
            for party in (hugo, iris):
                party.wait(timeout=300)
            (run,) = [
                r
                for r in server.flow_runs("atender-persona")
                if r["name"] == "atender-Zoe"
            ]
            deadline = time.monotonic() + 240
            while server.get(f"/flow_runs/{run['id']}")["state_name"] != "Crashed":
                if time.monotonic() > deadline:
                    raise TimeoutError("atender-Zoe no quedó Crashed")
                time.sleep(2)
        ui_png(
            page,
            f"{server.url}/v2/runs/flow-run/{run['id']}",
            "Sin latidos en 90 s",
            shots["gerente-crashed.png"],
            tab="Details",
            height=1000,  # State Message queda debajo del gráfico
        )
        terminal_png(
            terminal,
            "python restaurant/gerente.py",
            wait_for_line(phone, "atender-Zoe"),  # el aviso de la corrida cortada
            shots["gerente-terminal.png"],
        )


def main() -> None:
    """Regenerar las imágenes y el manifiesto con la versión de Prefect."""
    if not Path(CHROMIUM).exists():
        sys.exit(
            f"No encuentro Chromium en {CHROMIUM}. En Debian/Ubuntu: "
            "`sudo apt-get install chromium`; o indicar otra ruta en CHROMIUM_PATH."
        )
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="prefect-capturas-") as home:
        manifest = capture_all(Path(home), free_port(4200))
    MANIFEST.write_text(
        json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    sizes = {name: (IMAGES / name).stat().st_size for name in CAPTURES}
    for name, size in sizes.items():
        print(f"{size / 1024:7.0f} KB  imagenes/{name}")
    print(
        f"{len(sizes)} imágenes, {sum(sizes.values()) / 1024:.0f} KB en total, "
        f"Prefect {manifest['prefect']}, en {time.perf_counter() - start:.0f} s"
    )


if __name__ == "__main__":
    main()
