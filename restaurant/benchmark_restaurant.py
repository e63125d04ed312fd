"""Medir el restaurante: un turno concurrente frente a atender de a un grupo.

Levanta un servidor temporal de Prefect propio, atiende N grupos con T mesas a
la vez y uno detrás de otro, y mide cuánto agrega Prefect por task y por
subflow (síncrono y asíncrono). Uso:
``python restaurant/benchmark_restaurant.py [--grupos 20] [--escala 0.2]``.
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
sys.path.insert(0, str(Path(__file__).resolve().parent))

from prefect import flow, task  # noqa: E402
from prefect.settings import (  # noqa: E402
    PREFECT_FLOWS_HEARTBEAT_FREQUENCY,
    temporary_settings,
)
from prefect.testing.utilities import prefect_test_harness  # noqa: E402

from cocina import TIME_SCALE_VARIABLE, Cocina  # noqa: E402
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


def main() -> None:
    """Medir y mostrar los resultados."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grupos", type=int, default=20)
    parser.add_argument("--escala", type=float, default=0.2)
    args = parser.parse_args()
    if args.grupos < 1 or not 0 <= args.escala <= 10:
        sys.exit("--grupos debe ser >= 1 y --escala un número entre 0 y 10")
    os.environ[TIME_SCALE_VARIABLE] = str(args.escala)
    tables = len(TABLES)
    kitchen = Cocina(prob_quemar=0)
    parties = arrivals(args.grupos)

    with prefect_test_harness():
        asyncio.run(open_restaurant())
        one = statistics.median(
            timed(lambda: asyncio.run(serve_party(parties[0], kitchen)))
            for _ in range(3)
        )
        shift = timed(lambda: asyncio.run(serve_shift(parties, kitchen)))

        async def one_after_another() -> None:
            for party in parties:
                await serve_party(party, kitchen)

        sequential = timed(lambda: asyncio.run(one_after_another()))
        per_call = asyncio.run(time_async_calls(OVERHEAD_ITEMS))
        sync_subflow = time_sync_subflows(OVERHEAD_ITEMS)
        no_heartbeat = time_sync_subflows_without_heartbeat(OVERHEAD_ITEMS)

    rounds = lower_bound_rounds(
        [p["personas"] for p in parties], TABLES["asientos"].tolist()
    )
    print(f"{args.grupos} grupos, {tables} mesas, escala de tiempo {args.escala}")
    print(f"un grupo solo (mediana de 3):          {one:7.2f} s")
    print(f"turno concurrente (atender-turno):     {shift:7.2f} s")
    print(f"uno detrás de otro:                    {sequential:7.2f} s")
    print(f"cota: {rounds} rondas (por tamaños) × {one:.2f} s: {rounds * one:7.2f} s")
    print(f"concurrente / cota:                    {shift / (rounds * one):7.2f}")
    print(f"uno detrás de otro / concurrente:      {sequential / shift:7.2f}")
    print(f"Costo por llamada, media de {OVERHEAD_ITEMS} (servidor temporal, SQLite):")
    for name, seconds in [
        *per_call.items(),
        ("subflow síncrono", sync_subflow),
        ("ídem, sin heartbeat", no_heartbeat),
    ]:
        print(f"  {name:<20}{seconds * 1000:9.1f} ms")


if __name__ == "__main__":
    main()
