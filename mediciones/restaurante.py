"""Medir el restaurante: el mismo turno contra SQLite y contra PostgreSQL.

Levanta un `prefect server start` propio con SQLite (la base por defecto) y
otro con PostgreSQL (un clúster de usar y tirar, creado con los comandos del
README), uno después del otro, y en cada uno atiende un grupo solo, un turno de
N grupos con las 5 mesas y un turno grande; compara cada turno con la cota (lo
mínimo que puede durar con estas mesas) y mide cuánto cuesta una task y un
subflow. Necesita PostgreSQL instalado (README, "Hacia producción"). Uso:
``python mediciones/restaurante.py [--grupos 20] [--grande 100]``.
"""

import argparse
import asyncio
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

# Antes de importar prefect: un PREFECT_HOME propio, sin telemetría
os.environ["PREFECT_HOME"] = tempfile.mkdtemp(prefix="prefect-benchmark-")
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ.pop("PREFECT_API_URL", None)
ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "restaurant")]

from prefect import flow, task  # noqa: E402
from prefect.events.worker import EventsWorker  # noqa: E402
from prefect.logging.handlers import APILogWorker  # noqa: E402
from prefect.settings import (  # noqa: E402
    PREFECT_API_URL,
    PREFECT_FLOWS_HEARTBEAT_FREQUENCY,
    temporary_settings,
)

from cocina import TIME_SCALE_VARIABLE, Cocina  # noqa: E402
from herramientas.postgres import PostgresCluster  # noqa: E402
from herramientas.servidor import PrefectServer, free_port  # noqa: E402
from mesas import TABLES, open_restaurant  # noqa: E402
from run_restaurant import serve_party  # noqa: E402
from turno import serve_shift  # noqa: E402

SIZES = [1, 2, 2, 3, 4, 4, 5, 6, 6, 2, 1, 3, 4, 5, 6, 2, 2, 3, 1, 6]
OVERHEAD_ITEMS = 20


def arrivals(n: int) -> list[dict]:
    """Armar n grupos de tamaños variados, con dos platos cada uno."""
    return [
        {
            "nombre": f"Grupo {i:02d}",
            "personas": SIZES[(i - 1) % len(SIZES)],
            "pedido": ["Empanadas", "Limonada"],
        }
        for i in range(1, n + 1)
    ]


def lower_bound_rounds(sizes: list[int], seats: list[int]) -> int:
    """Contar cuántas rondas de comidas hacen falta como mínimo, por tamaños.

    Los grupos de k o más personas solo caben en las mesas de k o más asientos:
    si son G grupos para M mesas, hacen falta al menos ceil(G/M) rondas. Ningún
    orden de llegada baja de la mayor de esas cuentas.
    """
    return max(
        math.ceil(sum(size >= k for size in sizes) / sum(seat >= k for seat in seats))
        for k in set(sizes)
    )


def timed(function, *args) -> float:
    """Medir en segundos una llamada."""
    start = time.perf_counter()
    function(*args)
    return time.perf_counter() - start


async def plain_noop() -> None:
    """La misma función vacía, sin Prefect: la base de la comparación."""


@task
async def async_noop() -> None:
    """No hacer nada, para medir el costo de una task."""


@flow
async def async_empty() -> None:
    """No hacer nada, para medir el costo de un subflow asíncrono."""


@flow
def sync_empty() -> None:
    """No hacer nada, para medir el costo de un subflow síncrono."""


# Cada medición se toma dentro de un flow ya iniciado: así el costo de crear el
# flow padre no se mezcla con el de cada task o subflow


@flow
async def time_async_calls(n: int) -> dict[str, float]:
    """Medir n llamadas a una función, a una task y a un subflow asíncronos."""
    times = {}
    for name, call in [
        ("función", plain_noop),
        ("task", async_noop),
        ("subflow asíncrono", async_empty),
    ]:
        start = time.perf_counter()
        for _ in range(n):
            await call()
        times[name] = (time.perf_counter() - start) / n
    return times


@flow
def time_sync_subflows(n: int) -> float:
    """Medir n subflows síncronos (con la espera del heartbeat al terminar)."""
    start = time.perf_counter()
    for _ in range(n):
        sync_empty()
    return (time.perf_counter() - start) / n


def time_sync_subflows_without_heartbeat(n: int) -> float:
    """Medir los mismos subflows síncronos con el heartbeat apagado."""
    with temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}):
        return time_sync_subflows(n)


def measure(server: PrefectServer, parties: list[dict], big: int) -> dict:
    """Medir contra un servidor: un grupo, el turno, el turno grande, los costos."""
    kitchen = Cocina(prob_quemar=0)
    with temporary_settings({PREFECT_API_URL: server.api_url}):
        asyncio.run(open_restaurant())
        one = statistics.median(
            timed(lambda: asyncio.run(serve_party(parties[0], kitchen)))
            for _ in range(3)
        )
        start = time.perf_counter()
        shift = asyncio.run(serve_shift(parties, kitchen))
        shift_seconds = time.perf_counter() - start
        drain_events()
        big_parties = arrivals(big)
        start = time.perf_counter()
        big_shift = asyncio.run(serve_shift(big_parties, kitchen))
        big_seconds = time.perf_counter() - start
        # Las task runs se informan por eventos, en segundo plano: al terminar el
        # turno todavía quedan eventos por enviar
        pending = drain_events()
        per_call = asyncio.run(time_async_calls(OVERHEAD_ITEMS))
        per_call["subflow síncrono"] = time_sync_subflows(OVERHEAD_ITEMS)
        per_call["ídem, sin heartbeat"] = time_sync_subflows_without_heartbeat(
            OVERHEAD_ITEMS
        )
        drain_events()  # antes de apagar el servidor
    return {
        "one": one,
        "shift": shift_seconds,
        "shift_errors": len(parties) - len(shift["atendidos"]),
        "big": big_seconds,
        "big_errors": big - len(big_shift["atendidos"]),
        "big_pending": pending,
        "per_call": per_call,
    }


def drain_events() -> float:
    """Esperar a que salgan los eventos y logs en cola; devolver cuánto tardó."""
    start = time.perf_counter()
    EventsWorker.drain_all()
    APILogWorker.drain_all()
    return time.perf_counter() - start


def main() -> None:
    """Medir contra SQLite y contra PostgreSQL y mostrar las dos columnas."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grupos", type=int, default=20)
    parser.add_argument("--grande", type=int, default=100)
    parser.add_argument("--escala", type=float, default=0.2)
    args = parser.parse_args()
    if args.grupos < 1 or args.grande < 1 or not 0 <= args.escala <= 10:
        sys.exit("--grupos y --grande deben ser >= 1 y --escala un número entre 0 y 10")
    os.environ[TIME_SCALE_VARIABLE] = str(args.escala)
    parties = arrivals(args.grupos)
    home = Path(os.environ["PREFECT_HOME"])
    results = {}
    with PostgresCluster() as postgres:
        postgres.create_prefect_database()
        for name, server_env in [
            ("SQLite", {}),
            ("PostgreSQL", {"PREFECT_SERVER_DATABASE_CONNECTION_URL": postgres.url()}),
        ]:
            print(f"Midiendo contra {name}...", flush=True)
            with PrefectServer(home / name, free_port(), **server_env) as server:
                results[name] = measure(server, parties, args.grande)

    rounds = lower_bound_rounds(
        [p["personas"] for p in parties], TABLES["asientos"].tolist()
    )
    big_rounds = lower_bound_rounds(
        [p["personas"] for p in arrivals(args.grande)], TABLES["asientos"].tolist()
    )
    print(
        f"\n{len(TABLES)} mesas, escala de tiempo {args.escala}, "
        f"cota del turno de {args.grupos}: {rounds} rondas; "
        f"del de {args.grande}: {big_rounds} rondas (por tamaños)"
    )
    print(f"{'medida':<38}{'SQLite':>12}{'PostgreSQL':>12}")

    def row(label: str, values: list[str]) -> None:
        print(f"{label:<38}" + "".join(f"{value:>12}" for value in values))

    columns = [results["SQLite"], results["PostgreSQL"]]
    row("un grupo solo (mediana de 3)", [f"{r['one']:.2f} s" for r in columns])
    for size, key, count in [
        (args.grupos, "shift", rounds),
        (args.grande, "big", big_rounds),
    ]:
        row(f"turno de {size} grupos", [f"{r[key]:.2f} s" for r in columns])
        row(
            f"  cota: {count} rondas × un grupo",
            [f"{count * r['one']:.2f} s" for r in columns],
        )
        row("  turno / cota", [f"{r[key] / (count * r['one']):.2f}" for r in columns])
        row("  grupos no atendidos", [str(r[f"{key}_errors"]) for r in columns])
    row(
        f"eventos en cola tras el de {args.grande}",
        [f"{r['big_pending']:.2f} s" for r in columns],
    )
    row(
        f"turno de {args.grupos}: SQLite / PostgreSQL",
        ["", f"{columns[0]['shift'] / columns[1]['shift']:.2f}"],
    )
    print(f"Costo por llamada, media de {OVERHEAD_ITEMS}:")
    for name in columns[0]["per_call"]:
        row(f"  {name}", [f"{r['per_call'][name] * 1000:.1f} ms" for r in columns])


if __name__ == "__main__":
    main()
