"""Medir la búsqueda de modelos: en serie, con hilos, con Dask y desde la caché.

En la misma corrida y con el mismo trabajo: los candidatos uno tras otro sin
Prefect (la base), el flow con hilos, con un clúster local de Dask de 2 procesos
(contando lo que tarda en arrancar, y ya arrancado), el mismo clúster sin Prefect
(lo más que da la máquina), una segunda corrida que sale de la caché y el clúster
guardando la caché en un bucket del S3 local (`moto_server`) y leyéndola de allí.
Levanta su propio `prefect server start` y su moto. Imprime tiempos y cocientes.
Uso: ``python mediciones/busqueda.py [--repeticiones 50]``.
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "introduction")]
# Un PREFECT_HOME propio y el servidor de este script, antes de importar prefect
os.environ["PREFECT_HOME"] = tempfile.mkdtemp(prefix="prefect-benchmark-")
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ["DASK_LOGGING__DISTRIBUTED"] = "warning"
# Un hilo de BLAS y de OpenMP por proceso, como Dask en cada uno de sus procesos:
# así todos los casos usan cada núcleo igual y ninguno se estorba a sí mismo
for _name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_name] = "1"
os.environ.pop("PREFECT_API_URL", None)

from distributed import Client  # noqa: E402
from prefect.logging.handlers import APILogHandler  # noqa: E402
from prefect.settings import (  # noqa: E402
    PREFECT_API_URL,
    PREFECT_TASKS_REFRESH_CACHE,
    temporary_settings,
)
from prefect.task_runners import ThreadPoolTaskRunner  # noqa: E402
from prefect_dask import DaskTaskRunner  # noqa: E402
from pydantic import SecretStr  # noqa: E402

import buscar_modelo  # noqa: E402
from almacen import storage_block  # noqa: E402
from herramientas import cluster_dask, s3_local, servidor  # noqa: E402

PROCESOS = 2


def timed(run) -> tuple[float, list[dict]]:
    """Ejecutar una búsqueda y devolver cuánto tardó y su tabla de resultados."""
    start = time.perf_counter()
    tabla = run()
    return time.perf_counter() - start, tabla


def sequential(repeticiones: int) -> list[dict]:
    """El mismo trabajo sin Prefect: cada candidato después del anterior."""
    datos = buscar_modelo.load_dataset.fn()
    resultados = [
        buscar_modelo.evaluate_candidate.fn(candidato, datos, repeticiones)
        for candidato in buscar_modelo.CANDIDATOS
    ]
    return buscar_modelo.comparison_table(resultados)


def dask_alone(address: str, repeticiones: int) -> list[dict]:
    """El mismo trabajo en el clúster de Dask sin Prefect: el techo de la máquina."""
    datos = buscar_modelo.load_dataset.fn()
    with Client(address) as client:
        futures = client.map(
            buscar_modelo.evaluate_candidate.fn,
            buscar_modelo.CANDIDATOS,
            datos=datos,
            repeticiones=repeticiones,
            pure=False,
        )
        return buscar_modelo.comparison_table(client.gather(futures))


def with_runner(
    runner, repeticiones: int, refresh: bool = True, storage=None
) -> list[dict]:
    """Ejecutar el flow con un ejecutor de tasks; sin caché salvo que se pida.
    Con `storage`, los resultados (y la caché) van a ese bucket."""
    search = buscar_modelo.search_models.with_options(task_runner=runner)
    if storage is not None:
        search = search.with_options(result_storage=storage)
    with temporary_settings({PREFECT_TASKS_REFRESH_CACHE: refresh}):
        return search(buscar_modelo.CANDIDATOS, repeticiones)["tabla"]


def measure(n: int, veces: int, address: str, bucket) -> dict[str, list]:
    """Medir los casos por rondas (uno de cada uno por ronda) para repartir el ruido."""
    threads = ThreadPoolTaskRunner()
    local = DaskTaskRunner(
        cluster_kwargs={"n_workers": PROCESOS, "threads_per_worker": 1}
    )
    running = DaskTaskRunner(address=address)
    cases = {
        "en serie, sin Prefect (base)": lambda: sequential(n),
        "flow con hilos": lambda: with_runner(threads, n),
        f"Dask, {PROCESOS} procesos (arranca el clúster)": lambda: with_runner(
            local, n
        ),
        f"Dask, {PROCESOS} procesos (clúster ya iniciado)": lambda: with_runner(
            running, n
        ),
        f"Dask sin Prefect, {PROCESOS} procesos (el techo)": lambda: dask_alone(
            address, n
        ),
        f"Dask, {PROCESOS} procesos, guardando en el bucket": lambda: with_runner(
            running, n, storage=bucket
        ),
        f"Dask, {PROCESOS} procesos, desde el bucket (caché)": lambda: with_runner(
            running, n, False, bucket
        ),
        # Las corridas anteriores guardaron cada resultado: esta sale de la caché
        "flow con hilos, otra vez (caché)": lambda: with_runner(threads, n, False),
    }
    with_runner(running, 1)  # que los procesos del clúster importen scikit-learn
    results = {name: [] for name in cases}
    for ronda in range(1, veces + 1):
        for name, run in cases.items():
            results[name].append(timed(run))
            print(f"ronda {ronda}: {name}: {results[name][-1][0]:.2f} s", flush=True)
    return results


def main() -> None:
    """Medir cada caso y mostrar la tabla con los cocientes contra la base."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeticiones", type=int, default=buscar_modelo.REPETICIONES)
    parser.add_argument("--veces", type=int, default=3, help="rondas de medición")
    args = parser.parse_args()
    if not 1 <= args.repeticiones <= 100 or args.veces < 1:
        sys.exit("--repeticiones va de 1 a 100 y --veces es 1 o más")

    home = Path(os.environ["PREFECT_HOME"])
    with servidor.PrefectServer(home / "servidor", servidor.free_port()) as server:
        # El clúster ya iniciado: `dask scheduler` y `dask worker` del README, en
        # procesos aparte (con el scheduler en este proceso, la base tardaba más).
        # Este script importa buscar_modelo: sus procesos tienen que poder también
        cluster = cluster_dask.DaskCluster(
            server,
            DASK_LOGGING__DISTRIBUTED="warning",
            PYTHONPATH=str(ROOT / "introduction"),
        )
        with (
            temporary_settings({PREFECT_API_URL: server.api_url}),
            cluster,
            s3_local.LocalS3(home) as s3,
        ):
            s3.client().create_bucket(Bucket="cache-busqueda")
            # Como lo deja guardar_almacen.py: el bloque guardado en el servidor
            # (Prefect lo exige para un flow) y la clave solo en memoria
            bucket = storage_block("cache-busqueda", s3.endpoint, s3.key_id)
            bucket.save("cache-busqueda")
            bucket.credentials.aws_secret_access_key = SecretStr(s3.secret)
            results = measure(args.repeticiones, args.veces, cluster.address, bucket)
            APILogHandler().flush()  # los logs, antes de apagar el servidor

    tablas = [tabla for runs in results.values() for _, tabla in runs]
    winners = {tabla[0]["candidato"] for tabla in tablas}
    scores = {tuple(r["exactitud media"] for r in tabla) for tabla in tablas}
    if len(winners) != 1 or len(scores) != 1:
        sys.exit(f"Los casos no dieron el mismo resultado: ganadores {winners}")

    medians = {
        name: statistics.median(t for t, _ in runs) for name, runs in results.items()
    }
    names = list(medians)
    baseline, first, cached = medians[names[0]], medians[names[1]], medians[names[-1]]
    print(
        f"{len(buscar_modelo.CANDIDATOS)} candidatos, {args.repeticiones} "
        f"repeticiones × 5 partes; mediana de {args.veces} rondas; "
        f"{os.cpu_count()} núcleos"
    )
    print(f"Ganador en todos los casos: {winners.pop()}")
    print(f"{'caso':<48}{'mediana':>9}{'mín':>8}{'máx':>8}{'× base':>8}")
    for name, runs in results.items():
        times = [t for t, _ in runs]
        print(
            f"{name:<48}{medians[name]:>8.2f}s{min(times):>7.2f}s{max(times):>7.2f}s"
            f"{baseline / medians[name]:>8.2f}"
        )
    print(
        f"La corrida desde la caché, frente a la 1.ª con hilos: {first / cached:.1f}×"
    )
    saving, from_bucket = medians[names[-3]], medians[names[-2]]
    print(
        f"Desde el bucket, frente a la que guarda en él (Dask): "
        f"{saving / from_bucket:.1f}×"
    )


if __name__ == "__main__":
    main()
