"""El restaurante, paso 1: atender a una persona es un workflow de seis tasks.

Muestra solo la historia: seis tasks en orden, las tres acciones de "Asignar
mesa", un subflow por plato, reintentos y `log_prints`. Funciona sin servidor y
con `prefect server start`: ``python restaurant/paso1_historia.py``.
"""

from prefect import flow, runtime, task
from prefect.settings import get_current_settings

from cocina import Cocina, DishBurned, burns, wait
from menu import MENU, money
from mesas import TABLES

PEDIDO = ["Empanadas", "Milanesa con papas", "Limonada"]
# Con esta semilla, la Milanesa se quema en el primer intento y sale en el segundo
COCINA = Cocina(prob_quemar=0.3, semilla=0)


# 1. Recibir a la persona
@task(name="Recibir a la persona")
def receive_person(nombre: str, personas: int) -> None:
    """Dar la bienvenida en la puerta."""
    print(f"Bienvenida, {nombre}: mesa para {personas}, por favor.")
    wait(1)


# 2. Asignar mesa: tres acciones de una misma task
@task(name="Asignar mesa")
def assign_table(nombre: str, personas: int) -> int:
    """Verificar mesas disponibles, preparar la mesa y llevar a la persona a ella."""
    mesa = int(TABLES[TABLES["asientos"] >= personas]["mesa"].iloc[0])  # la más chica
    print(f"Verificar mesas disponibles: la mesa {mesa} es para {personas}.")
    wait(1)
    print(f"Preparar la mesa {mesa}: mantel, cubiertos y vasos.")
    wait(1)
    print(f"Llevar a la persona a la mesa: {nombre} ya está en la mesa {mesa}.")
    return mesa


# 3. Tomar pedido
@task(name="Tomar pedido")
def take_order(pedido: list[str]) -> list[str]:
    """Anotar los platos que pide la mesa."""
    print(f"Tomar pedido: {', '.join(pedido)}.")
    wait(2)
    return pedido


# 4. Llevar la comida: antes, la cocina prepara cada plato en un subflow
@task(name="Reunir ingredientes")
def gather_ingredients(plato: str) -> None:
    """Juntar los ingredientes del plato según el menú."""
    ingredientes = ", ".join(MENU.loc[plato, "ingredientes"])
    print(f"Reunir ingredientes de {plato}: {ingredientes}.")
    wait(1)


# Si el plato se quema (una excepción), Prefect reintenta la task hasta dos veces
@task(name="Cocinar", retries=2, retry_delay_seconds=1)
def cook(plato: str) -> str:
    """Cocinar el plato; a veces se quema y Prefect reintenta la task."""
    intento = runtime.task_run.run_count
    wait(int(MENU.loc[plato, "segundos_preparacion"]))
    if burns(COCINA, plato, intento):
        raise DishBurned(f"Se quemó {plato} (intento {intento}).")
    print(f"Cocinar {plato}: listo en el intento {intento}.")
    return plato


# Un flow llamado dentro de otro flow es un subflow: preparar un plato es un
# workflow en sí mismo, con sus propias tasks
@flow(name="preparar-plato", flow_run_name="preparar-{plato}", log_prints=True)
def prepare_dish(plato: str) -> str:
    """Preparar un plato: reunir los ingredientes y cocinarlo."""
    gather_ingredients(plato)
    return cook(plato)


@task(name="Llevar la comida")
def bring_food(mesa: int, servidos: list[str]) -> None:
    """Llevar a la mesa los platos que salieron de la cocina."""
    print(f"Llevar la comida a la mesa {mesa}: {', '.join(servidos)}.")


# 5. Cobrar el servicio
@task(name="Cobrar el servicio")
def charge(servidos: list[str]) -> int:
    """Sumar el precio de los platos servidos."""
    total = int(sum(MENU.loc[plato, "precio_centavos"] for plato in servidos))
    print(f"Cobrar el servicio: {money(total)} por {len(servidos)} platos.")
    return total


# 6. Despedir a la persona
@task(name="Despedir a la persona")
def say_goodbye(nombre: str) -> None:
    """Despedir a la persona en la puerta."""
    print(f"Despedir a la persona: ¡gracias por venir, {nombre}!")


# log_prints=True: cada print de las tasks queda también como log de la corrida
@flow(name="atender-persona", flow_run_name="atender-{nombre}", log_prints=True)
def serve_party(nombre: str, personas: int, pedido: list[str]) -> dict:
    """Atender a una persona (y a quienes vienen con ella) de principio a fin."""
    receive_person(nombre, personas)
    mesa = assign_table(nombre, personas)
    pedido = take_order(pedido)
    servidos = [prepare_dish(plato) for plato in pedido]  # un subflow por plato
    bring_food(mesa, servidos)
    total = charge(servidos)
    say_goodbye(nombre)
    return {"mesa": mesa, "servidos": servidos, "total_centavos": total}


if __name__ == "__main__":
    served = serve_party("Ana", 3, PEDIDO)
    print(f"\nMesa {served['mesa']}, total {money(served['total_centavos'])}.")
    if not get_current_settings().api.url:  # sin servidor: dónde verla después
        print("Para verla: `prefect server start` y http://127.0.0.1:4200")
