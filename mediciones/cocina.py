"""Medir la cocina: subflows en el proceso de cada grupo o una cola con cocineros.

Levanta un `prefect server start` propio con SQLite y otro con PostgreSQL (un
clúster de usar y tirar), y en cada uno atiende el mismo turno de N grupos a la
vez (dos personas, cuatro platos sin horno cada uno): con el paso 8 (cada plato
un subflow en el proceso de su grupo) y con el paso 9 (cada plato a la cola) con
1, 2 y 4 cocineros de `--limite` platos a la vez. Mide platos por minuto y la
espera de cada grupo entre el pedido y la comida, y las compara con el paso 8 en
el mismo servidor. El proveedor tiene un límite amplio, para medir la cocina y
no el ritmo del proveedor. Necesita PostgreSQL instalado (README, "Hacia
producción"). Uso: ``python mediciones/cocina.py [--grupos 20] [--escala 0.2]``.
"""

import argparse
import asyncio
import contextlib
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
# Con 20 grupos a la vez, SQLite responde a veces 503: más reintentos (como las
# pruebas) en lugar de perder un grupo
os.environ["PREFECT_CLIENT_MAX_RETRIES"] = "6"
ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "restaurant")]

from prefect.events.worker import EventsWorker  # noqa: E402
from prefect.logging.handlers import APILogWorker  # noqa: E402
from prefect.settings import PREFECT_API_URL, temporary_settings  # noqa: E402

import paso8_cobro  # noqa: E402
import paso9_cocina_cola  # noqa: E402
from cocina import TIME_SCALE_VARIABLE, Cocina  # noqa: E402
from grupo import Grupo  # noqa: E402
from herramientas.postgres import PostgresCluster  # noqa: E402
from herramientas.servidor import PrefectServer, free_port, run_lesson  # noqa: E402
from mesas import open_restaurant  # noqa: E402

ORDER = ["Ravioles", "Ensalada mixta", "Milanesa con papas", "Limonada"]
COOKS = [1, 2, 4]


def when(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


async def shift(serve_party, n: int, tag: str) -> list[dict]:
    """Atender n grupos a la vez con el flow `serve_party` (paso 8 o paso 9)."""
    await open_restaurant()
    kitchen = Cocina(prob_quemar=0)
    parties = [
        serve_party(
            Grupo(nombre=f"{tag} {i:02d}", personas=2, pedido=ORDER), kitchen, atasco=0
        )
        for i in range(1, n + 1)
    ]
    return await asyncio.gather(*parties, return_exceptions=True)


def kitchen_waits(server: PrefectServer, results: list[dict]) -> list[float]:
    """Cuánto esperó cada grupo: del fin de Tomar pedido al inicio de Llevar la
    comida (la comanda es el id de la corrida). Las task runs llegan al servidor
    por eventos, un momento después: se esperan hasta 60 s."""
    waits = []
    for result in results:
        deadline = time.monotonic() + 60
        while True:
            runs = server.task_runs(result["comanda"])
            ordered = [
                when(r["end_time"])
                for r in runs
                if r["name"].startswith("Tomar pedido") and r["end_time"]
            ]
            served = [
                when(r["start_time"])
                for r in runs
                if r["name"].startswith("Llevar la comida") and r["start_time"]
            ]
            if ordered and served:
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"Faltan task runs de {result['nombre']}: {runs}")
            time.sleep(0.5)
        waits.append(min(served) - max(ordered))
    return waits


def drain_events() -> None:
    EventsWorker.drain_all()
    APILogWorker.drain_all()


def measure(server: PrefectServer, n: int, limit: int, scale: str) -> dict:
    """Un turno con subflows y uno con 1, 2 y 4 cocineros, en un servidor."""
    rows = {}
    run_lesson(
        server,
        *("-m", "prefect", "gcl", "create", "proveedor", "--limit", "1000"),
        *("--slot-decay-per-second", "1000"),
    )
    configs = [("subflows (paso 8)", 0, paso8_cobro.serve_party)]
    configs += [
        (f"cola, {c} cocinero{'s' if c > 1 else ''}", c, paso9_cocina_cola.serve_party)
        for c in COOKS
    ]
    with temporary_settings({PREFECT_API_URL: server.api_url}):
        for label, cooks, serve_party in configs:
            with contextlib.ExitStack() as kitchen:
                for c in range(cooks):
                    kitchen.enter_context(
                        server.cook(
                            f"C{c + 1}",
                            *("--limite", str(limit)),
                            RESTAURANTE_ESCALA_TIEMPO=scale,
                            # La carpeta de los mozos (este proceso): los
                            # cocineros leen ahí los parámetros de cada plato
                            PREFECT_HOME=os.environ["PREFECT_HOME"],
                        )
                    )
                start = time.perf_counter()
                results = asyncio.run(shift(serve_party, n, f"Turno {cooks}"))
                seconds = time.perf_counter() - start
            drain_events()
            failed = [r for r in results if isinstance(r, BaseException)]
            results = [r for r in results if not isinstance(r, BaseException)]
            served = sum(len(r["servidos"]) for r in results)
            waits = kitchen_waits(server, results)
            rows[label] = {
                "segundos": seconds,
                "platos": served,
                "por_minuto": served / seconds * 60,
                "espera": statistics.median(waits),
                "espera_max": max(waits),
                "fallidos": len(failed),
            }
            print(
                f"  {label}: {seconds:.1f} s, {served} platos, "
                f"{len(failed)} grupos fallidos",
                flush=True,
            )
    return rows


def main() -> None:
    """Medir contra SQLite y contra PostgreSQL y mostrar la tabla."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grupos", type=int, default=20)
    parser.add_argument("--limite", type=int, default=2)
    parser.add_argument("--escala", type=float, default=0.2)
    args = parser.parse_args()
    if args.grupos < 1 or args.limite < 1 or not 0 < args.escala <= 10:
        sys.exit(
            "--grupos y --limite deben ser >= 1 y --escala un número mayor que 0 "
            "y hasta 10"
        )
    scale = str(args.escala)
    os.environ[TIME_SCALE_VARIABLE] = scale
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
                results[name] = measure(server, args.grupos, args.limite, scale)

    print(
        f"\n{args.grupos} grupos a la vez, {len(ORDER)} platos cada uno, "
        f"escala de tiempo {args.escala}, cocineros de {args.limite} platos a la vez"
    )
    header = "platos/min  × paso 8  espera (mediana, máx)  × paso 8  fallidos"
    for name, rows in results.items():
        base = rows["subflows (paso 8)"]
        print(f"\n{name:<24}{header}")
        for label, r in rows.items():
            speed = r["por_minuto"] / base["por_minuto"]
            print(
                f"{label:<24}{r['por_minuto']:>10.1f}{speed:>9.2f}"
                f"{r['espera']:>12.1f} s{r['espera_max']:>7.1f} s"
                f"{r['espera'] / base['espera']:>9.2f}{r['fallidos']:>10}"
            )
    print("\nPostgreSQL / SQLite, platos por minuto:")
    for label in results["SQLite"]:
        ratio = (
            results["PostgreSQL"][label]["por_minuto"]
            / results["SQLite"][label]["por_minuto"]
        )
        print(f"  {label:<24}{ratio:.2f}")


if __name__ == "__main__":
    main()
