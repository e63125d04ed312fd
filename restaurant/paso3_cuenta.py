"""El restaurante, paso 3: la cuenta y el ticket, artefactos de la corrida.

Muestra lo que agrega al paso 2: "Cobrar el servicio" publicando la cuenta como
tabla y el ticket en Markdown: la corrida los guarda en su pestaña Artifacts.
Funciona sin servidor y con `prefect server start`.
Ejecutar con ``python restaurant/paso3_cuenta.py``.
"""

import asyncio

import pandas as pd
from prefect import flow, get_run_logger, runtime, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.settings import get_current_settings

from cocina import COOK_RETRIES, Cocina, DishBurned, attempt_number, burns, simulate
from cuenta import bill, bill_table, dish_list, ticket_markdown
from menu import MENU, money
from mesas import TABLES

PEDIDO = ["Empanadas", "Milanesa con papas", "Limonada"]
COCINA = Cocina(prob_quemar=0.3, semilla=0)


# 1. Recibir a la persona
@task(name="Recibir a la persona")
async def receive_person(nombre: str, personas: int) -> None:
    """Dar la bienvenida en la puerta."""
    print(f"Bienvenida, {nombre}: mesa para {personas}, por favor.")
    await simulate(1)


# 2. Asignar mesa: tres acciones de una misma task
@task(name="Asignar mesa")
async def assign_table(nombre: str, personas: int) -> int:
    """Verificar mesas disponibles, preparar la mesa y llevar a la persona a ella."""
    mesa = int(TABLES[TABLES["asientos"] >= personas]["mesa"].iloc[0])  # la más chica
    print(f"Verificar mesas disponibles: la mesa {mesa} es para {personas}.")
    await simulate(1)
    print(f"Preparar la mesa {mesa}: mantel, cubiertos y vasos.")
    await simulate(1)
    print(f"Llevar a la persona a la mesa: {nombre} ya está en la mesa {mesa}.")
    return mesa


# 3. Tomar pedido
@task(name="Tomar pedido")
async def take_order(pedido: list[str]) -> pd.DataFrame:
    """Anotar cuántos de cada plato pide la mesa y a qué precio."""
    order = (
        pd.DataFrame({"plato": pedido})
        .groupby("plato", sort=False)
        .size()
        .reset_index(name="cantidad")
    )
    order["precio_centavos"] = order["plato"].map(MENU["precio_centavos"])
    await simulate(2)
    for row in order.itertuples():
        print(
            f"Pedido: {row.cantidad} × {row.plato} ({money(row.precio_centavos)} c/u)."
        )
    return order


# 4. Llevar la comida: antes, la cocina prepara cada plato en un subflow
@task(name="Reunir ingredientes")
async def gather_ingredients(plato: str) -> list[str]:
    """Juntar los ingredientes del plato según el menú."""
    ingredients = list(MENU.loc[plato, "ingredientes"])
    print(f"Reunir ingredientes de {plato}: {', '.join(ingredients)}.")
    await simulate(1)
    return ingredients


@task(name="Cocinar", retries=COOK_RETRIES, retry_delay_seconds=1)
async def cook(plato: str, etiqueta: str) -> None:
    """Cocinar el plato; a veces se quema y Prefect reintenta la task."""
    # Los intentos se cuentan a lo largo de todas las preparaciones del plato
    attempt = attempt_number(runtime.flow_run.run_count, runtime.task_run.run_count)
    await simulate(int(MENU.loc[plato, "segundos_preparacion"]))
    if burns(COCINA, etiqueta, attempt):
        raise DishBurned(f"Se quemó {plato} (intento {attempt}).")
    print(f"Cocinar {plato}: listo en el intento {attempt}.")


@task(name="Emplatar")
async def plate(plato: str) -> str:
    """Servir el plato cocinado en su plato."""
    await simulate(1)
    print(f"Emplatar {plato}.")
    return plato


# Si el plato se quema en todos los intentos de Cocinar, Prefect reintenta el
# subflow entero: la cocina lo prepara otra vez desde cero
@flow(
    name="preparar-plato",
    flow_run_name="preparar-{etiqueta}",
    retries=1,
    log_prints=True,
)
async def prepare_dish(plato: str, etiqueta: str) -> str:
    """Preparar un plato: reunir ingredientes, cocinar y emplatar."""
    await gather_ingredients(plato)
    await cook(plato, etiqueta)
    return await plate(plato)


@task(name="Llevar la comida")
async def bring_food(mesa: int, servidos: list[str]) -> None:
    """Llevar a la mesa los platos que salieron de la cocina."""
    await simulate(1)
    print(f"Llevar la comida a la mesa {mesa}: {', '.join(servidos) or 'nada'}.")


# 5. Cobrar el servicio
@task(name="Cobrar el servicio")
async def charge(
    nombre: str,
    personas: int,
    mesa: int,
    pedido: pd.DataFrame,
    servidos: list[str],
    no_servidos: list[str],
) -> pd.DataFrame:
    """Cobrar solo lo servido y publicar la cuenta y el ticket como artefactos."""
    cuenta = bill(pedido, servidos)
    await create_table_artifact(
        bill_table(cuenta), key="cuenta", description=f"Cuenta de la mesa {mesa}"
    )
    await create_markdown_artifact(
        ticket_markdown(nombre, personas, mesa, cuenta, no_servidos),
        key="ticket",
        description=f"Ticket de la mesa {mesa}",
    )
    await simulate(1)
    total = money(int(cuenta["subtotal_centavos"].sum()))
    print(f"Cobrar el servicio: {total} por {int(cuenta['cantidad'].sum())} platos.")
    return cuenta


# 6. Despedir a la persona
@task(name="Despedir a la persona")
async def say_goodbye(nombre: str, no_servidos: list[str]) -> None:
    """Despedir a la persona; si algo no se pudo servir, pedir disculpas."""
    if no_servidos:
        # Un WARNING, no un print: destacado en la UI y filtrable por nivel
        get_run_logger().warning(
            "Disculpe, %s: no pudimos servir %s y no se lo cobramos.",
            nombre,
            dish_list(no_servidos),
        )
    await simulate(1)
    print(f"Despedir a la persona: ¡gracias por venir, {nombre}!")


@flow(
    name="atender-persona",
    flow_run_name="atender-{nombre}",
    log_prints=True,
)
async def serve_party(nombre: str, personas: int, pedido: list[str]) -> dict:
    """Atender a una persona (y a quienes vienen con ella) de principio a fin."""
    await receive_person(nombre, personas)
    mesa = await assign_table(nombre, personas)
    orden = await take_order(pedido)
    # Los platos a la vez: return_state=True da el estado de cada subflow en vez
    # de lanzar la excepción del primero que falle
    states = await asyncio.gather(
        *(
            prepare_dish(plato, f"{nombre}-{i}-{plato}", return_state=True)
            for i, plato in enumerate(pedido, 1)
        )
    )
    servidos, no_servidos = [], []
    for plato, state in zip(pedido, states, strict=True):
        (servidos if state.is_completed() else no_servidos).append(plato)
    await bring_food(mesa, servidos)
    cuenta = await charge(nombre, personas, mesa, orden, servidos, no_servidos)
    await say_goodbye(nombre, no_servidos)
    total = int(cuenta["subtotal_centavos"].sum())
    return {
        "mesa": mesa,
        "servidos": servidos,
        "cuenta": cuenta,
        "total_centavos": total,
    }


if __name__ == "__main__":
    served = asyncio.run(serve_party("Ana", 3, PEDIDO))
    print(f"\nCuenta de Ana, mesa {served['mesa']}:")
    print(served["cuenta"].to_string(index=False))
    print(f"Total: {money(served['total_centavos'])}")
    if not get_current_settings().api.url:  # sin servidor: dónde verla después
        print("Para verla: `prefect server start` y http://127.0.0.1:4200")
