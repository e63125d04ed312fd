"""Las mesas del restaurante: leídas de mesas.csv y ocupadas con Prefect.

Cada mesa es un límite de concurrencia global de Prefect (`mesa-N`) con un solo
lugar. Un grupo ocupa una mesa pidiéndole ese lugar al servidor con un *lease*,
y la devuelve al irse; si el proceso muere antes, el servidor la libera cuando
vence el lease. Ver "Las mesas, un recurso limitado" en el README.
"""

import asyncio
from pathlib import Path
from uuid import UUID

import httpx
import pandas as pd
from prefect import get_client, runtime
from prefect.client.schemas.objects import ConcurrencyLeaseHolder

HERE = Path(__file__).resolve().parent
# Si el proceso muere con la mesa ocupada, el servidor la libera al vencer el
# lease; nadie lo renueva, así que un grupo no puede quedarse más que esto
TABLE_LEASE_SECONDS = 600
POLL_SECONDS = 1.0


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
    return UUID(response.json()["lease_id"])


async def release_table(lease_id: UUID) -> None:
    """Liberar la mesa: devolver su lugar en el límite de concurrencia."""
    async with get_client() as client:
        await client.release_concurrency_slots_with_lease(lease_id)


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
