"""Los workers: el mismo restaurante, ejecutado por workers de un work pool.

Muestra un deployment que no ejecuta su propio proceso (`serve`), sino los
workers de un *work pool*: `deploy` registra `atender-persona/llegadas` en el
pool `restaurante`, con el mismo disparador de llegadas, y termina. Cada worker
(`prefect worker start --pool restaurante`, uno por terminal) pide al servidor
las corridas del pool y ejecuta cada una en un proceso nuevo.
Necesita `prefect server start`, PREFECT_API_URL y el pool creado antes:
``prefect work-pool create restaurante --type process``. Ejecutar con
``python restaurant/desplegar_restaurante.py``.
"""

import asyncio
import sys
from pathlib import Path

import httpx
from prefect import flow, get_client
from prefect.exceptions import ObjectNotFound
from prefect.settings import get_current_settings

from acceso import exit_if_unauthorized
from mesas import open_restaurant
from serve_restaurant import NO_SERVER, arrival_trigger

WORK_POOL = "restaurante"
HERE = Path(__file__).resolve().parent

NO_POOL = f"""No se registra el deployment: el work pool '{WORK_POOL}' no existe en
{{url}}. Créalo antes con
  prefect work-pool create {WORK_POOL} --type process
(capitulos/09-hacia-produccion.md, 'Workers y work pools')."""


async def open_and_check_pool() -> bool:
    """Abrir el restaurante y decir si el work pool ya existe en el servidor."""
    await open_restaurant()
    async with get_client() as client:
        try:
            await client.read_work_pool(WORK_POOL)
        except ObjectNotFound:
            return False
    return True


if __name__ == "__main__":
    if not get_current_settings().api.url:
        sys.exit(NO_SERVER)
    try:
        pool_exists = asyncio.run(open_and_check_pool())
    except httpx.HTTPStatusError as error:
        exit_if_unauthorized(error)  # un servidor con contraseña: se explica
        raise
    if not pool_exists:
        sys.exit(NO_POOL.format(url=get_current_settings().api.url))
    # El código se lee de esta carpeta: los workers corren en esta máquina. Con
    # workers en otras máquinas, `source` sería un repositorio de git
    attending = flow.from_source(
        source=str(HERE), entrypoint="run_restaurant.py:serve_party"
    )
    attending.deploy(
        name="llegadas",
        work_pool_name=WORK_POOL,
        triggers=[arrival_trigger],
    )
