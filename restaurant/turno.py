"""Un turno del restaurante: varios grupos a la vez, cada uno con su corrida.

Muestra muchas corridas de un flow a la vez: `atender-turno` llama a
`atender-persona` una vez por grupo, cada grupo es un subflow, y las mesas
(límites de concurrencia) hacen que nadie comparta mesa. Un grupo que no se
puede atender se nombra, no se pierde. Funciona sin servidor. Ejecutar con
``python restaurant/turno.py``.
"""

import asyncio
import sys

import httpx
from prefect import flow, get_run_logger
from prefect.settings import get_current_settings
from pydantic import ValidationError

from acceso import exit_if_unauthorized
from cocina import DEFAULT_KITCHEN, Cocina
from grupo import SAMPLE_PARTY, Grupo, describe
from menu import money
from mesas import TABLES, open_restaurant
from paso5_grupo import serve_party

SAMPLE_SHIFT = [
    SAMPLE_PARTY,
    {"nombre": "Bruno", "personas": 2, "pedido": ["Ravioles", "Limonada"]},
    {"nombre": "Carla", "personas": 4, "pedido": ["Empanadas", "Empanadas"]},
    {"nombre": "Diego", "personas": 6, "pedido": ["Milanesa con papas"]},
    {"nombre": "Elena", "personas": 1, "pedido": ["Ensalada mixta"]},
    {"nombre": "Familia Pérez", "personas": 9, "pedido": ["Ravioles"]},
]


@flow(name="atender-turno", log_prints=True)
async def serve_shift(llegadas: list[dict], cocina: Cocina = DEFAULT_KITCHEN) -> dict:
    """Atender a la vez a todos los grupos de un turno; avisar a los que no."""
    await open_restaurant()
    grupos, rechazados = [], []
    for llegada in llegadas:
        try:
            grupos.append(Grupo.model_validate(llegada))
        except ValidationError as error:
            nombre = llegada.get("nombre") if isinstance(llegada, dict) else None
            rechazados.append(
                {
                    "llegada": llegada,
                    "nombre": nombre if isinstance(nombre, str) else "(sin nombre)",
                    "motivo": describe(error),
                }
            )
            get_run_logger().warning(
                "No podemos atender a %r: %s", nombre, describe(error)
            )
    # La puerta deja pasar a la vez tantos grupos como mesas hay; los demás
    # esperan afuera, sin abrir todavía su corrida
    door = asyncio.Semaphore(len(TABLES))

    async def enter(grupo: Grupo) -> dict:
        async with door:
            try:
                state = await serve_party(grupo, cocina, return_state=True)
            except httpx.HTTPStatusError as error:
                if error.response.status_code == 401:
                    raise  # sin la contraseña no se atiende a nadie: main lo explica
                # El servidor no pudo abrir la corrida del grupo: se dice, no se pierde
                return {
                    "nombre": grupo.nombre,
                    "motivo": "El servidor de Prefect no pudo abrir su corrida "
                    f"(respondió {error.response.status_code}); vuelve a intentarlo.",
                }
        if state.is_completed():
            return await state.aresult()
        return {"nombre": grupo.nombre, "motivo": state.message}

    results = await asyncio.gather(*(enter(grupo) for grupo in grupos))
    atendidos = [r for r in results if "mesa" in r]
    fallidos = [r for r in results if "mesa" not in r]
    print(
        f"Turno terminado: {len(atendidos)} atendidos, {len(rechazados)} "
        f"rechazados, {len(fallidos)} con problemas."
    )
    return {"atendidos": atendidos, "rechazados": rechazados, "fallidos": fallidos}


def main() -> int:
    """Atender el turno de ejemplo y mostrar qué mesa tocó a cada grupo."""
    try:
        result = asyncio.run(serve_shift(SAMPLE_SHIFT))
    except httpx.HTTPStatusError as error:
        exit_if_unauthorized(error)
        raise
    for party in result["atendidos"]:
        print(
            f"{party['nombre']}: mesa {party['mesa']}, {money(party['total_centavos'])}"
        )
    for party in result["rechazados"] + result["fallidos"]:
        print(f"No atendido: {party['nombre']}. {party['motivo']}")
    if not get_current_settings().api.url:
        print(
            "\nEste turno usó un servidor temporal de Prefect: para verlo, abre "
            "`prefect server start`."
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
