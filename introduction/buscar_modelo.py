"""Buscar el mejor modelo para Iris: tasks en paralelo, caché y Dask.

Muestra `.submit` y `.map` (una task por candidato, al mismo tiempo), futuros,
una política de caché (la segunda corrida no repite el trabajo) y el mismo flow
con dos ejecutores de tasks: hilos (por defecto) o un clúster de Dask.
Funciona sin servidor con hilos; con Dask necesita `prefect server start`.
Ejecutar con ``python introduction/buscar_modelo.py [--dask | --dask-direccion ...]``.
"""

import argparse
import logging
import math
import os
import socket
import sys
import time
from datetime import timedelta
from urllib.parse import urlparse

from prefect import flow, task, unmapped
from prefect.artifacts import create_table_artifact
from prefect.cache_policies import INPUTS, TASK_SOURCE
from prefect.runtime import task_run
from prefect.settings import (
    PREFECT_TASKS_REFRESH_CACHE,
    get_current_settings,
    temporary_settings,
)
from prefect.task_runners import ThreadPoolTaskRunner
from prefect_dask import DaskTaskRunner
from sklearn.datasets import load_iris
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import RepeatedStratifiedKFold, cross_val_score
from sklearn.neighbors import KNeighborsClassifier
from sklearn.svm import SVC
from sklearn.tree import DecisionTreeClassifier
from threadpoolctl import threadpool_limits

from almacen import StorageProblem, load_storage
from run_iris import temporary_server_note

RANDOM_STATE = 42
FOLDS = 5
REPETICIONES = 50  # cada candidato se entrena FOLDS × REPETICIONES veces

# Cada modelo, con los parámetros que se pueden ajustar: (tipo, mínimo, máximo)
MODELOS = {
    "regresion_logistica": (LogisticRegression, {"C": (float, 0.001, 1000)}),
    "k_vecinos": (KNeighborsClassifier, {"n_neighbors": (int, 1, 100)}),
    "svm": (SVC, {"C": (float, 0.001, 1000)}),
    "arbol": (DecisionTreeClassifier, {"max_depth": (int, 1, 50)}),
    "bosque": (
        RandomForestClassifier,
        {"n_estimators": (int, 1, 500), "max_depth": (int, 1, 50)},
    ),
}
CANDIDATOS = [
    {"modelo": "regresion_logistica", "C": 0.1},
    {"modelo": "regresion_logistica", "C": 10.0},
    {"modelo": "k_vecinos", "n_neighbors": 5},
    {"modelo": "k_vecinos", "n_neighbors": 15},
    {"modelo": "svm", "C": 1.0},
    {"modelo": "arbol", "max_depth": 3},
    {"modelo": "bosque", "n_estimators": 20},
    {"modelo": "bosque", "n_estimators": 20, "max_depth": 3},
]
# La caché: mismo código de la task y mismas entradas = mismo resultado guardado
CACHE = INPUTS + TASK_SOURCE
CACHE_EXPIRATION = timedelta(days=7)

NO_SERVER = (
    "Dask necesita `prefect server start`: sin él, cada proceso de Dask levantaría\n"
    "su propio servidor temporal. Ábrelo en otra terminal y ejecuta antes:\n"
    "  prefect config set PREFECT_API_URL=http://127.0.0.1:4200/api"
)


def describe(candidato: dict) -> str:
    """Nombrar un candidato como se lee en la UI: `bosque n_estimators=20`."""
    parametros = " ".join(f"{k}={v}" for k, v in candidato.items() if k != "modelo")
    return f"{candidato['modelo']} {parametros}".strip()


def check_candidates(candidatos: list) -> None:
    """Rechazar en español una lista de candidatos vacía o con errores."""
    if not isinstance(candidatos, list) or not candidatos:
        raise ValueError(
            f"La búsqueda necesita una lista con al menos un candidato; llegó "
            f"{candidatos!r}. Ejemplo: [{{'modelo': 'svm', 'C': 1.0}}]"
        )
    for numero, candidato in enumerate(candidatos, start=1):
        if not isinstance(candidato, dict) or candidato.get("modelo") not in MODELOS:
            raise ValueError(
                f"El candidato {numero} ({candidato!r}) no nombra un modelo "
                f"conocido en 'modelo'; los modelos son: {', '.join(MODELOS)}."
            )
        _, ajustables = MODELOS[candidato["modelo"]]
        for nombre, valor in candidato.items():
            if nombre == "modelo":
                continue
            if nombre not in ajustables:
                raise ValueError(
                    f"El candidato {numero} ({candidato['modelo']}) no tiene el "
                    f"parámetro {nombre!r}; se puede ajustar: {', '.join(ajustables)}."
                )
            tipo, minimo, maximo = ajustables[nombre]
            es_numero = isinstance(valor, int | float) and not isinstance(valor, bool)
            if (
                not es_numero
                or (tipo is int and valor != int(valor))
                or not math.isfinite(valor)
                or not minimo <= valor <= maximo
            ):
                clase = "un entero" if tipo is int else "un número"
                raise ValueError(
                    f"En el candidato {numero} ({candidato['modelo']}), {nombre} "
                    f"debe ser {clase} entre {minimo} y {maximo}; llegó {valor!r}."
                )
    for numero, candidato in enumerate(candidatos, start=1):
        if candidato in candidatos[: numero - 1]:  # 1 y 1.0 son el mismo valor
            raise ValueError(
                f"Los candidatos {candidatos.index(candidato) + 1} y {numero} son el "
                f"mismo ({describe(candidato)}); cada candidato debe ser distinto."
            )


def build_model(candidato: dict):
    """Crear el modelo de scikit-learn que describe un candidato."""
    clase, _ = MODELOS[candidato["modelo"]]
    parametros = {k: v for k, v in candidato.items() if k != "modelo"}
    if candidato["modelo"] == "regresion_logistica":
        parametros["max_iter"] = 1000
    if "random_state" in clase().get_params():
        parametros["random_state"] = RANDOM_STATE
    return clase(**parametros)


def evaluation_name() -> str:
    """Dar a cada task de evaluación el nombre de su candidato en la UI."""
    return f"Evaluar {describe(task_run.parameters['candidato'])}"


@task(name="Cargar Iris", cache_policy=CACHE, cache_expiration=CACHE_EXPIRATION)
def load_dataset() -> dict:
    """Cargar las 150 flores de Iris con sus cuatro medidas y su especie."""
    data = load_iris()
    return {"data": data.data, "target": data.target}


@task(
    task_run_name=evaluation_name,
    cache_policy=CACHE,
    cache_expiration=CACHE_EXPIRATION,
    retries=2,
    retry_delay_seconds=2,
)
def evaluate_candidate(candidato: dict, datos: dict, repeticiones: int) -> dict:
    """Medir un candidato con validación cruzada repetida y devolver su exactitud."""
    inicio = time.perf_counter()
    validacion = RepeatedStratifiedKFold(
        n_splits=FOLDS, n_repeats=repeticiones, random_state=RANDOM_STATE
    )
    scores = cross_val_score(
        build_model(candidato), datos["data"], datos["target"], cv=validacion
    )
    segundos = time.perf_counter() - inicio
    print(f"{describe(candidato)}: exactitud {scores.mean():.3f} en {segundos:.1f} s")
    return {
        "candidato": describe(candidato),
        "exactitud": float(scores.mean()),
        "desviacion": float(scores.std()),
        "entrenamientos": len(scores),
        "segundos": round(segundos, 2),
    }


def comparison_table(resultados: list[dict]) -> list[dict]:
    """Ordenar los resultados del mejor al peor (a igual exactitud, el más estable)."""
    ordenados = sorted(resultados, key=lambda r: (-r["exactitud"], r["desviacion"]))
    return [
        {
            "puesto": puesto,
            "candidato": r["candidato"],
            "exactitud media": round(r["exactitud"], 4),
            "desviación": round(r["desviacion"], 4),
            "entrenamientos": r["entrenamientos"],
            "segundos": r["segundos"],
        }
        for puesto, r in enumerate(ordenados, start=1)
    ]


@flow(name="buscar-modelo", log_prints=True)
def search_models(
    candidatos: list[dict] = CANDIDATOS, repeticiones: int = REPETICIONES
) -> dict:
    """Evaluar todos los candidatos a la vez y publicar la comparación."""
    check_candidates(candidatos)  # antes de que corra ninguna task
    if not 1 <= repeticiones <= 100:
        raise ValueError(f"repeticiones va de 1 a 100; llegó {repeticiones!r}.")
    # .submit lanza la task y devuelve enseguida un futuro
    datos = load_dataset.submit()
    # .map lanza una task por candidato; unmapped: el mismo valor para todas
    futuros = evaluate_candidate.map(
        candidatos, datos=unmapped(datos), repeticiones=unmapped(repeticiones)
    )
    tabla = comparison_table(futuros.result())  # espera a que terminen todas
    ganador = tabla[0]
    create_table_artifact(
        tabla,
        key="iris-busqueda-modelos",
        description=(
            f"Gana {ganador['candidato']} con exactitud media "
            f"{ganador['exactitud media']:.3f} ({FOLDS} partes × {repeticiones})"
        ),
    )
    print(f"Ganador: {ganador['candidato']} ({ganador['exactitud media']:.3f})")
    return {"ganador": ganador["candidato"], "tabla": tabla}


def dask_address_problem(direccion: str) -> str | None:
    """Decir en español por qué no hay un scheduler de Dask en esa dirección."""
    partes = urlparse(direccion)
    if partes.scheme != "tcp" or not partes.hostname or not partes.port:
        return f"{direccion!r} no es una dirección de Dask: usa tcp://HOST:PUERTO."
    try:
        socket.create_connection((partes.hostname, partes.port), timeout=5).close()
    except OSError:
        return (
            f"Nadie responde en {direccion}: no hay un scheduler de Dask ahí.\n"
            "Inícialo en otra terminal con\n"
            f"  dask scheduler --host {partes.hostname} --port {partes.port}\n"
            f"y sus procesos con  dask worker {direccion} --nworkers 2 --nthreads 1"
        )
    return None


def choose_task_runner(args: argparse.Namespace):
    """Elegir el ejecutor de tasks según la línea de comandos, sin tocar el flow."""
    if args.dask_direccion:
        # Un clúster que ya existe, en esta máquina o en otras
        return DaskTaskRunner(address=args.dask_direccion)
    if args.dask:
        # Un clúster local de procesos, que vive lo que dura el flow
        return DaskTaskRunner(
            cluster_kwargs={"n_workers": args.procesos, "threads_per_worker": 1}
        )
    return ThreadPoolTaskRunner(max_workers=args.hilos)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Leer la línea de comandos: qué ejecutor usar y si recalcular la caché."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    grupo = parser.add_mutually_exclusive_group()
    grupo.add_argument("--dask", action="store_true", help="clúster local de Dask")
    grupo.add_argument("--dask-direccion", help="un clúster que ya existe: tcp://…")
    parser.add_argument("--procesos", type=int, default=2, help="con --dask")
    parser.add_argument("--hilos", type=int, default=None, help="sin Dask")
    parser.add_argument("--repeticiones", type=int, default=REPETICIONES)
    parser.add_argument(
        "--recalcular", action="store_true", help="no usar la caché, guardar de nuevo"
    )
    parser.add_argument(
        "--almacen",
        metavar="BLOQUE",
        help="guardar resultados y caché en el bucket de ese bloque S3Bucket",
    )
    args = parser.parse_args(argv)
    if args.procesos < 1 or (args.hilos is not None and args.hilos < 1):
        parser.error("--procesos y --hilos deben ser enteros mayores o iguales a 1")
    if not 1 <= args.repeticiones <= 100:
        parser.error(f"--repeticiones va de 1 a 100; llegó {args.repeticiones}")
    return args


def main(argv: list[str] | None = None) -> int:
    """Ejecutar la búsqueda con el ejecutor elegido y decir dónde verla."""
    args = parse_args(argv)
    if args.dask or args.dask_direccion:
        if not get_current_settings().api.url:
            print(NO_SERVER, file=sys.stderr)
            return 1
        # Dask cuenta en INFO cada paso de su clúster; aquí y en sus procesos,
        # solo sus avisos y errores
        logging.getLogger("distributed").setLevel(logging.WARNING)
        os.environ["DASK_LOGGING__DISTRIBUTED"] = "warning"
    if args.dask_direccion and (problema := dask_address_problem(args.dask_direccion)):
        print(problema, file=sys.stderr)
        return 1
    # Un hilo de BLAS y OpenMP para cada task: ocho tasks en hilos, con varios hilos
    # de cálculo cada una, se estorban (Dask ya lo hace en sus procesos)
    threadpool_limits(limits=1)
    search = search_models.with_options(task_runner=choose_task_runner(args))
    if args.almacen:
        try:
            almacen = load_storage(args.almacen)
        except StorageProblem as problema:
            print(problema, file=sys.stderr)
            return 1
        # Las tasks guardan sus resultados, y la caché, en el bucket
        search = search.with_options(result_storage=almacen)
    # Recalcular: ejecutar cada task aunque haya caché y guardar el resultado nuevo
    with temporary_settings({PREFECT_TASKS_REFRESH_CACHE: args.recalcular}):
        search(CANDIDATOS, args.repeticiones)
    if note := temporary_server_note():
        print(note)
    return 0


if __name__ == "__main__":  # Dask lo necesita: sus procesos importan este archivo
    sys.exit(main())
