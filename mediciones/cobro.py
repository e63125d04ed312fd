"""Medir cuánto cuesta cobrar con una transacción (paso 8) frente a una task (paso 7).

Levanta su propio `prefect server start` (con un PREFECT_HOME temporal), abre el
restaurante y atiende al mismo grupo por rondas, sin esperas simuladas: con el
paso 7 (una task, *Cobrar el servicio*), con el paso 8 y `atasco=0` (tres tasks
en una transacción, la caja y el registro de la transacción) y con el paso 8
leyendo la Variable del día (sin `atasco`). Mide el tramo del cobro, de la
primera task de cobro al final de la última, con las horas que guarda el
servidor, y la corrida entera desde este proceso; imprime medianas y cocientes
contra el paso 7. Uso: ``python mediciones/cobro.py [--veces 10]``.
"""

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

# Antes de importar prefect: un PREFECT_HOME propio, sin telemetría
os.environ["PREFECT_HOME"] = tempfile.mkdtemp(prefix="prefect-benchmark-")
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ.pop("PREFECT_API_URL", None)
ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "restaurant")]

from prefect.events.worker import EventsWorker  # noqa: E402
from prefect.logging.handlers import APILogWorker  # noqa: E402
from prefect.settings import (  # noqa: E402
    PREFECT_API_URL,
    PREFECT_FLOWS_HEARTBEAT_FREQUENCY,
    temporary_settings,
)

import paso8_cobro  # noqa: E402
import run_restaurant  # noqa: E402
from cocina import TIME_SCALE_VARIABLE, Cocina  # noqa: E402
from herramientas.servidor import PrefectServer, free_port  # noqa: E402
from mesas import open_restaurant  # noqa: E402

PARTY = {"nombre": "Ana", "personas": 3, "pedido": ["Empanadas", "Limonada"]}
CHARGE_TASKS = {
    "paso 7": ("Cobrar el servicio",),
    "paso 8": ("Reservar el monto", "Imprimir el ticket", "Cerrar la cuenta"),
}
# Cada caso: su nombre, el flow, sus parámetros y qué tasks son el cobro
CASES = [
    ("paso 7: una task", run_restaurant.serve_party, {}, "paso 7"),
    (
        "paso 8: transacción, --atasco 0",
        paso8_cobro.serve_party,
        {"atasco": 0},
        "paso 8",
    ),
    ("paso 8: transacción, la Variable", paso8_cobro.serve_party, {}, "paso 8"),
]


def seconds(stamp: str) -> float:
    return datetime.fromisoformat(stamp).timestamp()


def charge_span(server: PrefectServer, flow_run_id: str, names: tuple) -> float:
    """De la primera task de cobro al final de la última, según el servidor."""
    runs = [
        run
        for run in server.task_runs(flow_run_id)
        if run["name"].rsplit("-", 1)[0] in names
    ]
    if len(runs) != len(names) or not all(run["end_time"] for run in runs):
        sys.exit(f"La corrida {flow_run_id} no tiene sus tasks de cobro: {runs}")
    start = min(seconds(run["start_time"]) for run in runs)
    return max(seconds(run["end_time"]) for run in runs) - start


def serve_once(serve_party, options: dict) -> tuple[float, str]:
    """Atender al grupo una vez; devolver cuánto tardó y el id de la corrida."""
    start = time.perf_counter()
    state = asyncio.run(
        serve_party(PARTY, Cocina(prob_quemar=0), return_state=True, **options)
    )
    elapsed = time.perf_counter() - start
    if not state.is_completed():
        sys.exit(f"La corrida terminó en {state.name}: {state.message}")
    return elapsed, str(state.state_details.flow_run_id)


def main() -> None:
    """Medir los tres casos por rondas y mostrar la tabla."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--veces", type=int, default=10)
    n = parser.parse_args().veces
    if n < 2:
        sys.exit(
            "--veces debe ser un entero mayor o igual a 2 (la primera ronda no cuenta)"
        )
    os.environ[TIME_SCALE_VARIABLE] = "0"
    home = Path(os.environ["PREFECT_HOME"])
    walls = {name: [] for name, *_ in CASES}
    spans = {name: [] for name, *_ in CASES}
    # Sin heartbeat, como las pruebas: el flow no espera a su hilo al terminar
    settings = {PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}
    with PrefectServer(home / "servidor", free_port()) as server:
        with temporary_settings({PREFECT_API_URL: server.api_url, **settings}):
            asyncio.run(open_restaurant())
            ids = {name: [] for name, *_ in CASES}
            # Por rondas, un caso de cada uno por ronda y cada ronda empezando
            # por otro: el ruido de una máquina compartida, y lo que cueste ir
            # primero, se reparten entre los casos
            for i in range(n):
                first = i % len(CASES)
                for name, serve_party, options, _ in CASES[first:] + CASES[:first]:
                    elapsed, flow_run_id = serve_once(serve_party, options)
                    walls[name].append(elapsed)
                    ids[name].append(flow_run_id)
            # Las task runs llegan al servidor por eventos, en segundo plano
            EventsWorker.drain_all()
            APILogWorker.drain_all()
            for name, _, _, step in CASES:
                spans[name] = [
                    charge_span(server, flow_run_id, CHARGE_TASKS[step])
                    for flow_run_id in ids[name]
                ]

    def median(values: list[float]) -> float:
        return statistics.median(values[1:])  # la primera ronda calienta

    base = CASES[0][0]
    print(f"\nMedianas de {n - 1} rondas (sin la primera), grupo de Ana, escala 0:")
    print(
        f"{'caso':<36}{'cobro':>8}{'mín–máx':>15}{'× paso 7':>10}"
        f"{'corrida':>9}{'mín–máx':>13}{'× paso 7':>10}"
    )
    for name, *_ in CASES:
        span, wall = median(spans[name]), median(walls[name])
        span_range = f"{min(spans[name][1:]):.3f}–{max(spans[name][1:]):.3f}"
        wall_range = f"{min(walls[name][1:]):.1f}–{max(walls[name][1:]):.1f}"
        span_ratio = span / median(spans[base])
        print(
            f"{name:<36}{span:>7.3f}s{span_range:>15}{span_ratio:>10.2f}"
            f"{wall:>8.2f}s{wall_range:>13}{wall / median(walls[base]):>10.2f}"
        )


if __name__ == "__main__":
    main()
