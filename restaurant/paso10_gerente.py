"""El gerente se entera (paso 10): sobre el paso 9, el restaurante emite eventos.

Muestra `emit_event` dentro de un flow: la corrida avisa cuándo recibe a un
grupo, cuándo lo sienta y qué plato no sale. Las automations del servidor
(avisar_al_gerente.py) los miran y avisan al gerente (gerente.py).
Necesita `prefect server start` y al menos un cocinero. Ejecutar con
``python restaurant/paso10_gerente.py`` (``--help``: grupo, comanda, impresora).
"""

import asyncio
import sys
import time
from typing import Annotated

import pandas as pd
from prefect import flow, get_run_logger, runtime, task
from prefect.events import emit_event
from prefect.transactions import atransaction
from pydantic import BeforeValidator

from cobro import (
    bills,
    check_comanda,
    close_account,
    jam_rate,
    print_ticket,
    reserve_amount,
    todays_jam_rate,
)
from cocina import DEFAULT_KITCHEN, Cocina, simulate
from cocina_cola import Dish, in_the_queue, wait_for_kitchen
from cocineros import dish_stuck_after, prepare_dish
from cuenta import add_to_order, bill, dish_list
from grupo import Grupo, person_resource
from linea_de_comandos import command_line
from menu import MENU, money
from mesas import (
    keep_table,
    release_table,
    release_table_hook,
    seats_at,
    wait_for_table,
)
from postre import (
    ASK,
    DESSERT_WAIT_SECONDS,
    NO_DESSERT,
    ask_for_dessert,
    dessert_choice,
    wait_seconds,
)


# Lo que pasa con un grupo, como eventos en el servidor. emit_event no espera
# al servidor: el evento sale en segundo plano y la corrida sigue
def tell(event: str, grupo: Grupo, **payload: object) -> None:
    """Emitir un evento del grupo (restaurante.persona.recibida, ...)."""
    emit_event(
        event=f"restaurante.{event}",
        resource=person_resource(grupo.nombre),
        payload={"grupo": grupo.nombre, **payload},
    )


# 1. Recibir a la persona
@task(name="Recibir a la persona")
async def receive_person(grupo: Grupo) -> None:
    """Dar la bienvenida al grupo en la puerta."""
    print(f"Bienvenida, {grupo.nombre}: mesa para {grupo.personas}, por favor.")
    tell("persona.recibida", grupo, personas=grupo.personas)
    await simulate(1)


# 2. Asignar mesa: tres acciones de una misma task
@task(name="Asignar mesa")
async def assign_table(grupo: Grupo) -> dict:
    """Verificar mesas disponibles, preparar la mesa y llevar al grupo a ella."""

    def say_we_wait() -> None:
        print(
            f"Verificar mesas disponibles: todas las mesas para {grupo.personas} "
            f"están ocupadas; {grupo.nombre} espera a que se libere una."
        )

    mesa, lease_id, free = await wait_for_table(grupo.personas, say_we_wait)
    seated_at = time.time()
    seats = seats_at(mesa)
    print(
        f"Verificar mesas disponibles: libres para {grupo.personas}: "
        f"{', '.join(map(str, free))}; la más chica es la {mesa} ({seats} asientos)."
    )
    try:
        await simulate(1)
        print(f"Preparar la mesa {mesa}: mantel, cubiertos y {seats} vasos.")
        await simulate(1)
        print(
            f"Llevar a la persona a la mesa: {grupo.nombre} ya está en la mesa {mesa}."
        )
    except BaseException:
        await release_table(lease_id)  # nadie se sentó: la mesa vuelve a estar libre
        raise
    tell("persona.sentada", grupo, mesa=mesa)
    return {"mesa": mesa, "lease_id": lease_id, "sentado": seated_at}


# 3. Tomar pedido
@task(name="Tomar pedido")
async def take_order(grupo: Grupo) -> pd.DataFrame:
    """Anotar cuántos de cada plato pide el grupo y a qué precio."""
    order = (
        pd.DataFrame({"plato": grupo.pedido})
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


# 4. Llevar la comida: antes, la cocina prepara cada plato. Los mozos ya no
# cocinan: mandan el plato a la cola de la cocina con .delay(), que vuelve en
# seguida, y un cocinero (cocineros.py, otro proceso) lo toma de la cola
OVEN = {"Empanadas", "Flan con dulce de leche"}


async def send_to_kitchen(
    plato: str, etiqueta: str, cocina: Cocina, comanda: str
) -> Dish:
    """Mandar un plato a la cola de la cocina."""
    # Los platos de horno llevan el tag "horno": su límite de concurrencia
    # dice cuántos hornean a la vez, en toda la cocina
    kitchen = prepare_dish.with_options(tags=["horno"] if plato in OVEN else [])
    future = kitchen.delay(plato, etiqueta, cocina, comanda)  # no espera al cocinero
    return await in_the_queue(plato, etiqueta, future)


async def from_the_kitchen(
    dishes: list[Dish], grupo: Grupo, mesa: int
) -> tuple[list[str], list[str]]:
    """Esperar los platos y separar los que salieron de los que no."""
    await wait_for_kitchen(dishes, stuck_after=dish_stuck_after())
    servidos, no_servidos = [], []
    for dish in dishes:
        if dish.resultado:
            print(f"Sale {dish.plato}, de {dish.resultado['cocinero']}.")
            servidos.append(dish.plato)
        else:
            get_run_logger().error(
                "Aviso al mozo: %s no sale de la cocina. %s No se sirve ni se cobra.",
                dish.plato,
                dish.motivo,
            )
            tell(
                "plato.no-salio", grupo, mesa=mesa, plato=dish.plato, motivo=dish.motivo
            )
            no_servidos.append(dish.plato)
    return servidos, no_servidos


@task(name="Llevar la comida")
async def bring_food(mesa: int, servidos: list[str]) -> None:
    """Llevar a la mesa los platos que salieron de la cocina."""
    await simulate(1)
    print(f"Llevar la comida a la mesa {mesa}: {', '.join(servidos) or 'nada'}.")


# 6. Despedir a la persona
@task(name="Despedir a la persona")
async def say_goodbye(grupo: Grupo, no_servidos: list[str]) -> None:
    """Despedir al grupo; si algo no se pudo servir, pedir disculpas."""
    if no_servidos:
        # Un print sería un log INFO: la disculpa es un WARNING, para verla
        # destacada en la UI y poder filtrarla por nivel
        get_run_logger().warning(
            "Disculpe, %s: no pudimos servir %s y no se lo cobramos.",
            grupo.nombre,
            dish_list(no_servidos),
        )
    await simulate(1)
    print(f"Despedir a la persona: ¡gracias por venir, {grupo.nombre}!")


# El workflow: los seis pasos en orden, con una mesa ocupada mientras come.
# Si la corrida se corta (Crashed) o se cancela, un hook libera la mesa
@flow(
    name="atender-persona",
    flow_run_name="atender-{grupo.nombre}",
    log_prints=True,
    persist_result=True,  # el resultado se guarda: otro proceso lo puede leer
    on_crashed=[release_table_hook],
    on_cancellation=[release_table_hook],
)
async def serve_party(
    grupo: Grupo,
    cocina: Cocina = DEFAULT_KITCHEN,
    postre: Annotated[str, BeforeValidator(dessert_choice)] = NO_DESSERT,
    espera_postre: Annotated[int, BeforeValidator(wait_seconds)] = DESSERT_WAIT_SECONDS,
    comanda: Annotated[str | None, BeforeValidator(check_comanda)] = None,
    atasco: Annotated[float | None, BeforeValidator(jam_rate)] = None,
) -> dict:
    """Atender a un grupo de principio a fin, con una mesa ocupada mientras come.

    `postre` es un postre del menú, "ninguno", o "preguntar" para elegirlo en la
    UI con la corrida en pausa, hasta `espera_postre` segundos. `comanda` es la
    clave del cobro (si no se da, la corrida); `atasco`, la probabilidad de que
    la impresora de tickets se trabe (si no se da, la Variable del día).
    """
    comanda = comanda or str(runtime.flow_run.id)
    if atasco is None:  # la Variable del servidor, leída en cada corrida
        atasco = await todays_jam_rate()
        print(f"Impresora de hoy: atasco {atasco:g}.")
    await receive_person(grupo)
    seat = await assign_table(grupo)
    renewal = asyncio.create_task(keep_table(seat["lease_id"]))  # mientras come
    try:
        pedido = await take_order(grupo)
        # Cada plato va a la cola de la cocina; los cocineros los preparan a la vez
        servidos, no_servidos = await from_the_kitchen(
            [
                await send_to_kitchen(
                    plato, f"{grupo.nombre}-{i}-{plato}", cocina, comanda
                )
                for i, plato in enumerate(grupo.pedido, 1)
            ],
            grupo,
            seat["mesa"],
        )
        await bring_food(seat["mesa"], servidos)
        if postre == ASK:
            postre = await ask_for_dessert(grupo.nombre, seat["mesa"], espera_postre)
        if postre != NO_DESSERT:
            # El postre es un plato más: a la cola, a la mesa y a la cuenta
            pedido = add_to_order(pedido, postre)
            etiqueta = f"{grupo.nombre}-{len(grupo.pedido) + 1}-{postre}"
            served, missing = await from_the_kitchen(
                [await send_to_kitchen(postre, etiqueta, cocina, comanda)],
                grupo,
                seat["mesa"],
            )
            servidos += served
            no_servidos += missing
            if served:
                await bring_food(seat["mesa"], served)
        cuenta = bill(pedido, servidos)
        total = int(cuenta["subtotal_centavos"].sum())
        # 5. Cobrar el servicio: tres tasks de cobro.py en una transacción, todo
        # o nada (si una falla, los hooks on_rollback deshacen lo hecho). Con la
        # clave, una comanda ya cobrada no se cobra otra vez aunque la corrida
        # se repita: la transacción quedó guardada
        async with atransaction(key=f"cuenta-{comanda}", store=bills()) as tx:
            if tx.is_committed():
                print(f"La comanda {comanda} ya está cobrada: no se cobra otra vez.")
            else:
                tx.set("comanda", comanda)
                await reserve_amount(comanda, seat["mesa"], total)
                await print_ticket(grupo, seat["mesa"], cuenta, no_servidos, atasco)
                await close_account(comanda)
                # Lo que queda guardado con la clave: la cuenta cobrada
                tx.stage({"mesa": seat["mesa"], "centavos": total, "cuenta": cuenta})
        await say_goodbye(grupo, no_servidos)
    finally:
        renewal.cancel()
        left_at = time.time()
        await release_table(seat["lease_id"])
        print(f"Mesa {seat['mesa']} libre.")
    return {
        "nombre": grupo.nombre,
        "personas": grupo.personas,
        "mesa": seat["mesa"],
        "servidos": servidos,
        "no_servidos": no_servidos,
        "cuenta": cuenta,
        "total_centavos": total,
        "comanda": comanda,
        "sentado": seat["sentado"],
        "liberado": left_at,
    }


def main(argv: list[str] | None = None) -> int:
    """Atender al grupo de la línea de comandos y mostrar la cuenta."""
    return command_line(argv, serve_party, dessert=True, bill=True, kitchen_queue=True)


if __name__ == "__main__":
    sys.exit(main())
