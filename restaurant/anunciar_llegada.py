"""Anunciar que llegó un grupo: emitir el evento que dispara `atender-persona`.

Sin argumentos anuncia al grupo de ejemplo; ``--nombre``, ``--personas`` y
``--plato`` describen otro. Valida el grupo antes de emitir: Prefect descarta
en silencio un evento cuyos datos no sirven. Necesita `prefect server start`,
PREFECT_API_URL y ``python restaurant/serve_restaurant.py`` en otra terminal.
"""

import re
import sys

from prefect.events import emit_event
from prefect.settings import get_current_settings
from pydantic import ValidationError

from run_restaurant import Grupo, describe, party_from_args, party_parser
from serve_restaurant import ARRIVAL_EVENT


def announce(grupo: Grupo) -> str:
    """Emitir la llegada del grupo y devolver el id del evento."""
    slug = re.sub(r"[^a-z0-9]+", "-", grupo.nombre.lower()).strip("-") or "grupo"
    event = emit_event(
        event=ARRIVAL_EVENT,
        resource={"prefect.resource.id": f"restaurante.persona.{slug}"},
        payload={"grupo": grupo.model_dump()},
    )
    return str(event.id)


def main(argv: list[str] | None = None) -> int:
    """Validar el grupo de la línea de comandos y anunciar su llegada."""
    args = party_parser("Anunciar la llegada de un grupo.").parse_args(argv)
    try:
        grupo = party_from_args(args)
    except ValidationError as error:
        print(f"No se anuncia la llegada:\n{describe(error)}", file=sys.stderr)
        return 2
    if not get_current_settings().api.url:
        print(
            "Falta PREFECT_API_URL: la llegada se anuncia en el servidor donde corre "
            "serve_restaurant.py (ver el README, 'Programar con cron y disparar con "
            "eventos').",
            file=sys.stderr,
        )
        return 2
    event_id = announce(grupo)
    print(f"Llegó {grupo.nombre} ({grupo.personas} personas): evento {event_id}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
