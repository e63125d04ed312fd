"""La cola de la cocina (paso 9), del lado de los mozos y de los cocineros.

No es parte de la lección: comprueba que hay un servidor donde la cola pueda
existir y que el límite del proveedor tiene ritmo, y espera los platos que los
mozos mandaron a la cola con `.delay()`: con un plazo, y devolviendo a la cola
un plato cuyo cocinero murió (ver "Un cocinero se muere" en el capítulo 11).
"""

import asyncio
import time
from dataclasses import dataclass
from uuid import UUID

import httpx
from prefect import get_client
from prefect.client.schemas.objects import StateDetails
from prefect.exceptions import ObjectNotFound, PrefectHTTPStatusError
from prefect.settings import get_current_settings
from prefect.states import Cancelled, Scheduled

from cocina import time_scale

# Lo más que un grupo espera su comida (más el tiempo de notar que un cocinero
# murió): pasado el plazo, lo que no salió se cancela y se le avisa al grupo
KITCHEN_WAIT_SECONDS = 120
# Un cocinero vivo cambia el estado del plato al menos cada timeout (de
# cocineros.py): un plato en Running desde hace más tiene un cocinero muerto
STUCK_MARGIN_SECONDS = 4
POLL_SECONDS = 0.5

NO_SERVER = """La cocina como cola necesita `prefect server start`: la cola vive en el
servidor, y con el servidor temporal de Prefect (el que se abre cuando no hay
PREFECT_API_URL) ningún otro proceso puede mandar ni tomar platos. Abre
`prefect server start` en otra terminal y ejecuta
  prefect config set PREFECT_API_URL=http://127.0.0.1:4200/api"""

SERVER_DOWN = """No encuentro el servidor de Prefect en {url} ({error}).
¿Está abierto `prefect server start`?"""

NO_SUPPLIER = """No existe el límite de ritmo '{name}'. Créalo con
  prefect gcl create {name} --limit 2 --slot-decay-per-second 1
(sin él, Prefect no espera: avisa con un WARNING y pide sin límite)."""

NO_DECAY = """El límite '{name}' no tiene ritmo (slot_decay_per_second es 0): sirve
para contar pedidos a la vez, no pedidos por segundo, y Prefect rechaza usarlo
con rate_limit. Bórralo y créalo con ritmo:
  prefect --no-prompt gcl delete {name}
  prefect gcl create {name} --limit 2 --slot-decay-per-second 1"""

NO_OVEN_LIMIT = """Aviso: no hay límite para el tag '{tag}'. Prefect no limita un tag
sin límite: los platos de horno se hornean todos a la vez. Para uno a la vez:
  prefect concurrency-limit create {tag} 1"""

# Un cocinero lee los parámetros del plato en la carpeta de Prefect de los mozos
# (~/.prefect/storage); si no puede (otra máquina, otro PREFECT_HOME), Prefect
# borra el task run
LOST = (
    "La cocina no pudo leer el pedido y lo descartó (¿un cocinero con otra carpeta "
    "de Prefect?)."
)


class OutOfStock(Exception):
    """Falta un ingrediente: reintentar no sirve."""


def check_kitchen_server() -> str | None:
    """El motivo, en español, por el que no hay cola posible; None si la hay."""
    url = get_current_settings().api.url
    if not url:
        return NO_SERVER
    try:
        httpx.get(f"{url}/health", timeout=5).raise_for_status()
    except httpx.HTTPError as error:
        return SERVER_DOWN.format(url=url, error=type(error).__name__)
    return None


async def check_supplier_limit(name: str) -> str | None:
    """El motivo por el que el límite del proveedor no sirve; None si sirve."""
    async with get_client() as client:
        try:
            limit = await client.read_global_concurrency_limit_by_name(name)
        except ObjectNotFound:
            return NO_SUPPLIER.format(name=name)
    if not limit.slot_decay_per_second:
        return NO_DECAY.format(name=name)
    return None


async def check_tag_limit(tag: str) -> str | None:
    """Un aviso si el tag no tiene límite de concurrencia; None si lo tiene."""
    async with get_client() as client:
        try:
            await client.read_concurrency_limit_by_tag(tag)
        except ObjectNotFound:
            return NO_OVEN_LIMIT.format(tag=tag)
    return None


@dataclass
class Dish:
    """Un plato en la cola: qué es, su task run y cómo terminó."""

    plato: str
    task_run_id: UUID
    resultado: dict | None = None
    motivo: str | None = None  # por qué no sale, si no sale
    reenviado: bool = False


async def in_the_queue(plato: str, etiqueta: str, future) -> Dish:
    """Anotar un plato que ya está en la cola, con su etiqueta como nombre.

    Prefect nombra "Preparar plato-N" al task run que crea `.delay()`; con la
    etiqueta, la UI dice de quién es mientras espera un cocinero.
    """
    async with get_client() as client:
        try:
            await client.set_task_run_name(future.task_run_id, etiqueta)
        except PrefectHTTPStatusError as error:
            # Un cocinero que no pudo leer el pedido ya lo borró: lo dice la espera
            if error.response.status_code != 404:
                raise
    return Dish(plato, future.task_run_id)


async def was_cancelled(task_run_id: UUID) -> bool:
    """Si el plato se canceló mientras esperaba en la cola.

    Cancelar un task run no lo saca de la cola del servidor: un cocinero que
    llega después lo toma igual, y debe ver que ya nadie lo espera.
    """
    async with get_client() as client:
        states = await client.read_task_run_states(task_run_id)
    return any(state.is_cancelled() for state in states)


async def back_to_the_queue(client, task_run_id: UUID) -> None:
    """Devolver a la cola un plato que tomó un cocinero que ya no está.

    El servidor vuelve a encolar un task run que pasa a Scheduled con
    `deferred=True`, y otro cocinero lo toma. El estado nuevo debe nombrar los
    parámetros guardados del plato, que están en su primer estado.
    """
    states = await client.read_task_run_states(task_run_id)
    first = min(states, key=lambda state: state.timestamp)
    details = StateDetails(
        deferred=True, task_parameters_id=first.state_details.task_parameters_id
    )
    await client.set_task_run_state(
        task_run_id, Scheduled(state_details=details), force=True
    )


async def why_not(state) -> str:
    """Por qué no salió un plato, en español si es un timeout."""
    error = await state.aresult(raise_on_failure=False)
    if state.name == "TimedOut" or isinstance(error, TimeoutError):
        return "Ningún intento terminó a tiempo (timeout_seconds)."
    return str(error) if isinstance(error, Exception) else state.message or state.name


async def connected_cooks(client) -> set[str]:
    """Los task workers conectados al servidor ahora (máquina-pid de cada uno)."""
    response = await client.request("POST", "/task_workers/filter", json={})
    response.raise_for_status()
    return {worker["identifier"] for worker in response.json()}


async def cook_is_gone(client, run, stuck_after: float, one_left: bool) -> bool:
    """Decidir si el cocinero que tomó este plato ya no está.

    Un cocinero vivo cambia el estado de un plato en Running antes de
    `stuck_after` segundos (termina, o su timeout lo corta). Un plato en
    Pending espera lugar en el horno, a veces mucho: solo se da por perdido si
    un cocinero se desconectó (`one_left`) y el horno tiene lugar.
    """
    state = run.state
    if time.time() - state.timestamp.timestamp() <= stuck_after:
        return False
    if state.is_running():
        return True
    if not state.is_pending() or not one_left:
        return False
    for tag in run.tags:
        try:
            limit = await client.read_concurrency_limit_by_tag(tag)
        except ObjectNotFound:
            continue
        if len(limit.active_slots) >= limit.concurrency_limit:
            return False  # el horno está lleno: el plato espera su turno
    return True


async def wait_for_kitchen(dishes: list[Dish], stuck_after: float) -> list[Dish]:
    """Esperar los platos de la cola hasta que salgan o pase el plazo.

    Un plato en Running desde hace más de `stuck_after` segundos vuelve a la
    cola una vez (su cocinero murió); los que no salen a tiempo se cancelan,
    para que ningún cocinero los prepare después para nadie.
    """
    # El plazo es de tiempo simulado (escalado), más lo que se tarda en notar
    # que un cocinero murió, que es tiempo real
    deadline = time.monotonic() + KITCHEN_WAIT_SECONDS * time_scale() + stuck_after
    pending = list(dishes)
    async with get_client() as client:
        seen = await connected_cooks(client)
        one_left = False  # si algún cocinero conectado se desconectó después
        while pending and time.monotonic() < deadline:
            now = await connected_cooks(client)
            one_left = one_left or bool(seen - now)
            seen |= now
            for dish in list(pending):
                try:
                    run = await client.read_task_run(dish.task_run_id)
                except ObjectNotFound:  # un cocinero no pudo leer el pedido
                    dish.motivo = LOST
                    pending.remove(dish)
                    continue
                state = run.state
                if state is None:  # recién creado: todavía sin estado
                    continue
                if state.is_completed():
                    dish.resultado = await state.aresult()
                elif state.is_final():
                    dish.motivo = await why_not(state)
                elif not dish.reenviado and await cook_is_gone(
                    client, run, stuck_after, one_left
                ):
                    await back_to_the_queue(client, dish.task_run_id)
                    dish.reenviado = True
                    print(
                        f"El cocinero de {dish.plato} no responde: el plato vuelve "
                        "a la cola."
                    )
                    continue
                else:
                    continue
                pending.remove(dish)
            if pending:
                await asyncio.sleep(POLL_SECONDS)
        for dish in pending:  # el plazo pasó: nadie lo va a servir
            await client.set_task_run_state(
                dish.task_run_id,
                Cancelled(message="El grupo no pudo esperar más."),
                force=True,
            )
            dish.motivo = "La cocina no lo preparó a tiempo."
    return dishes
