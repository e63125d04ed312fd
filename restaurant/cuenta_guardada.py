"""Leer una cuenta guardada desde otro proceso (capítulo 10).

Muestra dos formas de leer lo que dejó una corrida que ya terminó: la
transacción del cobro, por su clave (`--comanda`), y el resultado de una corrida
de `atender-persona`, por su nombre (`--corrida`). La segunda falla con
`MissingResult` si el flow no guardó su resultado (el paso 7) y funciona si lo
guardó (el paso 8, con `persist_result=True`).
Funciona sin servidor y con `prefect server start` (el mismo que la corrida).
Ejecutar con ``python restaurant/cuenta_guardada.py --comanda 17``.
"""

import argparse
import asyncio
import sys

from prefect import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName
from prefect.client.schemas.sorting import FlowRunSort
from prefect.exceptions import MissingResult

import caja
from cobro import bills, check_comanda
from menu import money


def show_comanda(comanda: str) -> int:
    """Mostrar el cobro guardado de una comanda, o decir que no está."""
    store = bills()
    key = f"cuenta-{comanda}"
    if not store.exists(key):
        print(
            f"No hay una cuenta cobrada con la comanda {comanda} en "
            f"{store.result_storage.basepath}.",
            file=sys.stderr,
        )
        return 1
    cobro = store.read(key).result
    print(f"Comanda {comanda}: mesa {cobro['mesa']}, {money(cobro['centavos'])}.")
    for row in cobro["cuenta"].itertuples():
        print(f"  {row.cantidad} × {row.plato}: {money(int(row.subtotal_centavos))}")
    # Lo que anotó la caja (fuera de Prefect) para la misma comanda
    print(f"En la caja: {', '.join(c['estado'] for c in caja.charges(comanda))}.")
    return 0


async def show_run(nombre: str) -> int:
    """Mostrar el resultado guardado de la corrida `nombre` (atender-...)."""
    async with get_client() as client:
        runs = await client.read_flow_runs(
            flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=[nombre])),
            sort=FlowRunSort.START_TIME_DESC,
            limit=1,
        )
    if not runs:
        print(f"No hay una corrida llamada {nombre!r}.", file=sys.stderr)
        return 1
    state = runs[0].state  # la última con ese nombre
    if not state.is_completed():
        print(f"La última corrida {nombre} está en {state.name}.", file=sys.stderr)
        return 1
    try:
        served = await state.aresult()
    except MissingResult as error:
        print(
            f"La corrida {nombre} terminó bien, pero su resultado no se guardó:\n"
            f"{error}\nEl flow del paso 8 lo guarda (persist_result=True).",
            file=sys.stderr,
        )
        return 1
    print(f"{nombre}: mesa {served['mesa']}, {money(served['total_centavos'])}.")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Leer una cuenta ya cobrada.")
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--comanda", help="la comanda del cobro (paso 8)")
    which.add_argument("--corrida", help="el nombre de la corrida: atender-Ana")
    args = parser.parse_args(argv)
    if args.comanda is not None:
        try:
            comanda = check_comanda(args.comanda)
        except ValueError as error:
            print(error, file=sys.stderr)
            return 2
        return show_comanda(comanda)
    return asyncio.run(show_run(args.corrida))


if __name__ == "__main__":
    sys.exit(main())
