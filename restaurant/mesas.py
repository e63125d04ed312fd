"""Las mesas del restaurante: leídas de mesas.csv y ocupadas con Prefect.

Cada mesa es un límite de concurrencia global de Prefect (`mesa-N`) con un solo
lugar. Un grupo ocupa una mesa pidiéndole ese lugar al servidor con un *lease*,
lo renueva mientras está sentado y la devuelve al irse. Si su proceso muere, un
hook la libera (`release_table_hook`); si no queda nadie para hacerlo, el
servidor la libera cuando vence el lease. Ver "Las mesas, un recurso limitado"
y "Si se cancela o se corta: hooks de estado" en los capítulos 6 y 7.
"""

import asyncio
from pathlib import Path
from uuid import UUID

import httpx
import pandas as pd
from prefect import get_client, get_run_logger, runtime
from prefect.client.schemas.objects import ConcurrencyLeaseHolder
from prefect.logging.loggers import flow_run_logger

HERE = Path(__file__).resolve().parent
# El lease vence al minuto (lo más corto que admite el servidor) y el grupo lo
# renueva cada 20 s mientras está sentado: si nadie lo renueva ni libera la mesa,
# `prefect server start` la libera al vencer
TABLE_LEASE_SECONDS = 60
RENEW_SECONDS = 20
POLL_SECONDS = 1.0
# Etiquetas de la corrida con su mesa y su lease, para que un hook la libere
TABLE_LABEL = "restaurante.mesa"
LEASE_LABEL = "restaurante.lease"
RELEASED = "liberado"


def load_tables(path: Path = HERE / "mesas.csv") -> pd.DataFrame:
    """Leer las mesas, de la más chica a la más grande."""
    return pd.read_csv(path).sort_values(["asientos", "mesa"], ignore_index=True)


TABLES = load_tables()


class TablesNotOpen(RuntimeError):
    """Faltan los límites de concurrencia que representan las mesas."""


def table_limit(mesa: int) -> str:
    """Nombrar el límite de concurrencia de una mesa."""
    return f"mesa-{mesa}"


async def open_restaurant() -> None:
    """Crear (o poner al día) un límite de concurrencia de 1 por cada mesa."""
    async with get_client() as client:
        for mesa in TABLES["mesa"]:
            await client.upsert_global_concurrency_limit_by_name(
                table_limit(int(mesa)), limit=1
            )


async def free_tables(client, personas: int) -> list[int]:
    """Verificar qué mesas donde entra el grupo están libres, de menor a mayor."""
    limits = {
        limit.name: limit
        for limit in await client.read_global_concurrency_limits(limit=200)
    }
    fitting = [int(m) for m in TABLES.loc[TABLES["asientos"] >= personas, "mesa"]]
    missing = [table_limit(m) for m in fitting if table_limit(m) not in limits]
    if missing:
        # Prefect ignora en silencio un límite que no existe: aquí fallamos
        raise TablesNotOpen(
            f"No existen los límites de concurrencia {', '.join(missing)}. Abre el "
            "restaurante con open_restaurant() (run_restaurant.py lo hace) o con "
            f"`prefect gcl create {missing[0]} --limit 1`."
        )
    return [
        m
        for m in fitting
        if limits[table_limit(m)].active_slots < limits[table_limit(m)].limit
    ]


async def take_table(client, mesa: int) -> UUID | None:
    """Ocupar la mesa si sigue libre; devolver el lease, o None si se la ganaron."""
    holder = None
    if runtime.flow_run.id:
        holder = ConcurrencyLeaseHolder(type="flow_run", id=runtime.flow_run.id)
    try:
        response = await client.increment_concurrency_slots_with_lease(
            names=[table_limit(mesa)],
            slots=1,
            mode="concurrency",
            lease_duration=TABLE_LEASE_SECONDS,
            holder=holder,
        )
    except httpx.HTTPStatusError as error:
        if error.response.status_code == 423:  # Locked: otro grupo llegó antes
            return None
        raise
    lease_id = UUID(response.json()["lease_id"])
    if holder:
        # Quien atienda un fallo de esta corrida (ver release_table_hook) lee
        # aquí qué mesa liberar
        labels = {TABLE_LABEL: str(mesa), LEASE_LABEL: str(lease_id)}
        try:
            await client.update_flow_run_labels(holder.id, labels)
        except httpx.HTTPStatusError as error:  # la mesa es del grupo igual
            get_run_logger().warning(
                "Mesa %s ocupada, pero no se anotó en la corrida (%s): si la "
                "corrida se corta, la mesa vuelve cuando venza el lease.",
                mesa,
                error.response.status_code,
            )
    return lease_id


async def release_table(lease_id: UUID) -> None:
    """Liberar la mesa: devolver su lugar en el límite de concurrencia."""
    async with get_client() as client:
        await client.release_concurrency_slots_with_lease(lease_id)
        if runtime.flow_run.id:  # que el hook no la libere otra vez
            try:
                await client.update_flow_run_labels(
                    runtime.flow_run.id, {LEASE_LABEL: RELEASED}
                )
            except httpx.HTTPStatusError as error:
                # La mesa ya está libre: una nota que no se pudo escribir (un
                # servidor saturado responde 503) no vuelve atrás a un grupo atendido
                get_run_logger().warning(
                    "Mesa libre, pero no se anotó en la corrida (%s).",
                    error.response.status_code,
                )


async def keep_table(lease_id: UUID) -> None:
    """Renovar el lease de la mesa cada RENEW_SECONDS, mientras el grupo siga."""
    async with get_client() as client:
        while True:
            await asyncio.sleep(RENEW_SECONDS)
            try:
                await client.renew_concurrency_lease(lease_id, TABLE_LEASE_SECONDS)
            except httpx.HTTPError as error:  # se vuelve a intentar en el próximo
                get_run_logger().warning("No se renovó el lease de la mesa: %s", error)
                gone = isinstance(error, httpx.HTTPStatusError) and (
                    error.response.status_code == 410  # Gone: el lease ya venció
                )
                if gone:
                    return  # no queda nada que renovar


async def release_table_hook(flow, flow_run, state) -> None:
    """Hook de estado: liberar la mesa de una corrida que se cortó.

    Prefect lo llama con la corrida y su nuevo estado. Tras un Crashed o un
    Cancelling lo ejecuta el proceso de `serve` que lanzó la corrida, aunque el
    proceso de la corrida haya muerto: por eso lee la mesa de las etiquetas de
    la corrida en el servidor, y no de la memoria del proceso. Liberar una mesa
    ya liberada no hace nada.
    """
    logger = flow_run_logger(flow_run, flow)
    async with get_client() as client:
        labels = (await client.read_flow_run(flow_run.id)).labels
        lease = labels.get(LEASE_LABEL)
        if lease in (None, RELEASED):  # no llegó a sentarse, o ya la liberó
            logger.info("Corrida en %s: no tenía mesa que liberar.", state.name)
            return
        await client.release_concurrency_slots_with_lease(UUID(lease))
    logger.warning(
        "Mesa %s libre: la corrida terminó en %s.", labels[TABLE_LABEL], state.name
    )


async def wait_for_table(personas: int, on_wait) -> tuple[int, UUID, list[int]]:
    """Ocupar la mesa libre más chica donde entre el grupo, esperando si hace falta.

    Devuelve la mesa, su lease y las mesas que estaban libres. Si todas las
    mesas posibles están ocupadas, llama una vez a `on_wait` y vuelve a mirar
    cada POLL_SECONDS, hasta que se libere una.
    """
    waiting = False
    async with get_client() as client:
        while True:
            free = await free_tables(client, personas)
            for mesa in free:
                lease_id = await take_table(client, mesa)
                if lease_id:  # None: otro grupo la ocupó entre medio
                    return mesa, lease_id, free
            if not waiting:
                on_wait()
                waiting = True
            await asyncio.sleep(POLL_SECONDS)


def seats_at(mesa: int) -> int:
    """Cuántos asientos tiene la mesa."""
    return int(TABLES.loc[TABLES["mesa"] == mesa, "asientos"].iloc[0])
