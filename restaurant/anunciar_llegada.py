"""Anunciar que llegó un grupo: emitir el evento que dispara `atender-persona`.

Muestra cómo emitir un evento y confirmar que el servidor lo recibió. Sin
argumentos anuncia al grupo de ejemplo; ``--nombre``, ``--personas`` y
``--plato`` describen otro, y ``--postre`` elige su postre en la puerta (si no,
se pregunta en la UI después de comer). Valida el grupo antes de emitir:
Prefect descarta en silencio un evento cuyos datos no sirven.
Necesita `prefect server start`, PREFECT_API_URL y
``python restaurant/serve_restaurant.py`` en otra terminal.
"""

import asyncio
import sys

import httpx
from prefect.events import Event
from prefect.events.clients import get_events_client
from prefect.settings import get_current_settings
from pydantic import ValidationError

from acceso import exit_if_unauthorized
from grupo import Grupo, describe, party_from_args, party_parser, person_resource
from postre import ASK, NO_DESSERT, dessert_choice
from serve_restaurant import ARRIVAL_EVENT


async def announce(grupo: Grupo, postre: str = ASK) -> str:
    """Enviar la llegada del grupo al servidor y devolver el id del evento.

    `emit_event()` solo deja el evento en una cola que se envía en segundo
    plano: si el servidor no responde, el script diría "Llegó" y la llegada se
    perdería. Aquí el evento se envía antes de seguir, o falla con un error.
    """
    event = Event(
        event=ARRIVAL_EVENT,
        resource=person_resource(grupo.nombre),
        payload={"grupo": grupo.model_dump(), "postre": postre},
    )
    # checkpoint_every=1: emit() espera a que el servidor confirme que lo leyó
    async with get_events_client(reconnection_attempts=2, checkpoint_every=1) as events:
        await events.emit(event)
    return str(event.id)


def main(argv: list[str] | None = None) -> int:
    """Validar el grupo de la línea de comandos y anunciar su llegada."""
    parser = party_parser("Anunciar la llegada de un grupo.")
    parser.add_argument(
        "--postre",
        default=ASK,
        help=f"un postre del menú o {NO_DESSERT!r}; por defecto, {ASK!r}: la "
        "corrida lo pregunta en la UI después de comer",
    )
    args = parser.parse_args(argv)
    try:
        grupo = party_from_args(args)
        postre = dessert_choice(args.postre)
    except (ValidationError, ValueError) as error:
        reason = describe(error) if isinstance(error, ValidationError) else error
        print(f"No se anuncia la llegada:\n{reason}", file=sys.stderr)
        return 2
    if not get_current_settings().api.url:
        print(
            "Falta PREFECT_API_URL: la llegada se anuncia en el servidor donde corre "
            "serve_restaurant.py (ver capitulos/08-cron-y-eventos.md).",
            file=sys.stderr,
        )
        return 1
    try:
        event_id = asyncio.run(announce(grupo, postre))
    except httpx.HTTPStatusError as error:
        exit_if_unauthorized(error)
        raise
    except (OSError, TimeoutError) as error:  # conexión rechazada o sin respuesta
        print(
            f"No se anunció la llegada de {grupo.nombre}: el servidor "
            f"{get_current_settings().api.url} no respondió ({error}). ¿Está abierto "
            "`prefect server start`?",
            file=sys.stderr,
        )
        return 1
    print(f"Llegó {grupo.nombre} ({grupo.personas} personas): evento {event_id}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
