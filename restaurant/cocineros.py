"""La cocina como cola (paso 9): un cocinero, un proceso que prepara platos.

Los mozos del paso 9 mandan cada plato a la cola de la cocina con `.delay()`;
cada cocinero es un task worker que toma de esa cola hasta `--limite` platos a
la vez. Muestra una task que se sirve en otro proceso, `timeout_seconds`,
`retry_condition_fn` y `retry_jitter_factor`, y un límite de ritmo
(`rate_limit`) para los pedidos al proveedor.
Necesita `prefect server start`. Ejecutar con
``python restaurant/cocineros.py --nombre Carla --limite 2``.
"""

import argparse
import asyncio
import sys

import httpx
from prefect import runtime, task
from prefect.concurrency.asyncio import rate_limit
from prefect.states import Cancelled
from prefect.task_worker import serve

from acceso import exit_if_unauthorized
from cocina import COOK_RETRIES, Cocina, DishBurned, burns, simulate
from cocina_cola import (
    STUCK_MARGIN_SECONDS,
    OutOfStock,
    check_kitchen_server,
    check_supplier_limit,
    check_tag_limit,
    was_cancelled,
)
from menu import MENU

SUPPLIER = "proveedor"  # el límite de ritmo: pedidos al proveedor por segundo
OVEN_TAG = "horno"  # la etiqueta de los platos de horno (ver paso9_cocina_cola.py)
DISH_TIMEOUT = 10  # segundos que puede durar un intento de preparar un plato

# Quién es este cocinero y qué le falta en la despensa: lo dice la línea de
# comandos al empezar
COOK = {"nombre": "", "sin_stock": set(), "lentitud": 1.0}


def dish_stuck_after() -> float:
    """Segundos en Running tras los que un plato tiene un cocinero muerto."""
    # Un cocinero vivo termina o corta cada intento antes de DISH_TIMEOUT
    return DISH_TIMEOUT + STUCK_MARGIN_SECONDS


def dish_and_cook() -> str:
    """El nombre del task run en la UI: el plato y quién lo prepara."""
    return f"{runtime.task_run.parameters['etiqueta']} · {COOK['nombre']}"


# Un plato quemado o demasiado lento se reintenta; sin un ingrediente, no:
# volver a intentarlo no trae el ingrediente
async def worth_retrying(task, task_run, state) -> bool:
    """retry_condition_fn: decidir si vale la pena otro intento."""
    error = await state.aresult(raise_on_failure=False)  # la excepción
    return isinstance(error, DishBurned | TimeoutError)


async def order_ingredients(plato: str) -> list[str]:
    """Pedir los ingredientes al proveedor, que atiende pocos pedidos por segundo."""
    ingredients = list(MENU.loc[plato, "ingredientes"])
    missing = sorted(set(ingredients) & COOK["sin_stock"])
    if missing:
        raise OutOfStock(f"No hay {', '.join(missing)} para {plato}.")
    await rate_limit(SUPPLIER)  # espera su turno si el proveedor está ocupado
    print(f"{COOK['nombre']} pide al proveedor: {', '.join(ingredients)}.")
    return ingredients


def same_dish_same_comanda(context, parameters) -> str:
    """cache_key_fn: un plato de una comanda se cocina una sola vez."""
    return f"plato-{parameters['comanda']}-{parameters['etiqueta']}"


# Un intento que pasa de DISH_TIMEOUT segundos falla con TimeoutError; los
# reintentos se separan 1 segundo, más o menos la mitad al azar (jitter). Si
# la corrida del grupo se repite con la misma comanda, el plato ya hecho sale de
# la caché en lugar de cocinarse otra vez
@task(
    name="Preparar plato",
    task_run_name=dish_and_cook,
    retries=COOK_RETRIES,
    retry_delay_seconds=1,
    retry_jitter_factor=0.5,
    retry_condition_fn=worth_retrying,
    timeout_seconds=DISH_TIMEOUT,
    cache_key_fn=same_dish_same_comanda,
    persist_result=True,
)
async def prepare_dish(plato: str, etiqueta: str, cocina: Cocina, comanda: str):
    """Preparar un plato: pedir los ingredientes y cocinarlo."""
    if await was_cancelled(runtime.task_run.id):  # el grupo ya se fue
        print(f"{COOK['nombre']} no cocina {etiqueta}: ya nadie lo espera.")
        return Cancelled(message="El grupo no pudo esperar más.")
    attempt = runtime.task_run.run_count
    await order_ingredients(plato)
    seconds = int(MENU.loc[plato, "segundos_preparacion"]) * COOK["lentitud"]
    await simulate(seconds)
    if burns(cocina, etiqueta, attempt):
        raise DishBurned(f"Se quemó {plato} (intento {attempt}).")
    print(f"{COOK['nombre']} cocinó {plato}: listo en el intento {attempt}.")
    return {"plato": plato, "cocinero": COOK["nombre"], "intento": attempt}


def main(argv: list[str] | None = None) -> int:
    """Empezar a cocinar: servir la task de la cocina hasta Ctrl+C."""
    parser = argparse.ArgumentParser(description="Un cocinero de la cocina.")
    parser.add_argument("--nombre", required=True, help="cómo se llama el cocinero")
    parser.add_argument(
        "--limite", type=int, default=2, help="cuántos platos prepara a la vez"
    )
    parser.add_argument(
        "--sin-stock",
        action="append",
        default=[],
        metavar="INGREDIENTE",
        help="un ingrediente que falta en la despensa (se puede repetir)",
    )
    parser.add_argument(
        "--lento",
        action="store_true",
        help="cocina todo en el triple de tiempo (para ver el timeout)",
    )
    args = parser.parse_args(argv)
    if args.limite < 1:
        print(f"--limite debe ser 1 o más; llegó {args.limite}.", file=sys.stderr)
        return 2
    if not args.nombre.strip():
        print("--nombre no puede estar vacío.", file=sys.stderr)
        return 2
    try:
        problem = check_kitchen_server() or asyncio.run(check_supplier_limit(SUPPLIER))
        warning = None if problem else asyncio.run(check_tag_limit(OVEN_TAG))
    except httpx.HTTPStatusError as error:
        exit_if_unauthorized(error)  # un servidor con contraseña: se explica
        raise
    if problem:
        print(problem, file=sys.stderr)
        return 1
    if warning:  # sigue, sin límite en el horno
        print(warning, file=sys.stderr)
    COOK.update(
        nombre=args.nombre.strip(),
        sin_stock=set(args.sin_stock),
        lentitud=3.0 if args.lento else 1.0,
    )
    print(
        f"{COOK['nombre']} cocina hasta {args.limite} platos a la vez "
        f"(un intento puede durar {DISH_TIMEOUT} s). Ctrl+C para terminar."
    )
    try:
        serve(prepare_dish, limit=args.limite)
    except KeyboardInterrupt:
        pass
    print(f"{COOK['nombre']} terminó su turno.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
