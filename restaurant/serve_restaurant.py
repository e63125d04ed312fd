"""El disparador del ejemplo: cuando llega una persona, se atiende a su grupo.

Muestra un disparador de eventos: `serve` registra el deployment
`atender-persona/llegadas`, y cada evento `restaurante.persona.llegada` crea una
corrida cuyo parámetro `grupo` es el del evento. Después de comer, si el evento
no trae el postre, la corrida lo pregunta y espera la respuesta en la UI
(``--espera-postre`` segundos). Necesita `prefect server start` y
PREFECT_API_URL. Ejecutar con ``python restaurant/serve_restaurant.py`` y
anunciar llegadas en otra terminal con ``python restaurant/anunciar_llegada.py``;
Ctrl+C detiene.
"""

import argparse
import asyncio
import sys

import httpx
from prefect.events import DeploymentEventTrigger
from prefect.settings import get_current_settings

from acceso import exit_if_unauthorized
from mesas import open_restaurant
from postre import DESSERT_WAIT_SECONDS, wait_seconds
from run_restaurant import serve_party

ARRIVAL_EVENT = "restaurante.persona.llegada"

arrival_trigger = DeploymentEventTrigger(
    name="llegada-de-una-persona",
    expect={ARRIVAL_EVENT},
    match={"prefect.resource.id": "restaurante.persona.*"},
    # Un valor que es solo una expresión conserva su tipo: aquí, el grupo entero
    parameters={
        "grupo": "{{ event.payload.grupo }}",
        # Sin postre en el evento, se pregunta en la UI después de comer
        "postre": "{{ event.payload.postre | default('preguntar') }}",
    },
)

NO_SERVER = """No se sirve el deployment: falta PREFECT_API_URL.
Sin ella, Prefect usaría un servidor temporal, en un puerto al azar, que se apaga
con este proceso: las llegadas se anuncian a un servidor que siga abierto. Abre
`prefect server start` en otra terminal y ejecuta
  prefect config set PREFECT_API_URL=http://127.0.0.1:4200/api
(capitulos/03-ver-el-workflow.md)."""


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="Servir el deployment llegadas.")
    parser.add_argument(
        "--espera-postre",
        type=int,
        default=DESSERT_WAIT_SECONDS,
        help="segundos que cada grupo espera a que elijas su postre en la UI",
    )
    args = parser.parse_args()
    try:
        espera = wait_seconds(args.espera_postre)
    except ValueError as error:
        sys.exit(str(error))
    if not get_current_settings().api.url:
        sys.exit(NO_SERVER)  # sale con código 1 y el mensaje en la terminal
    # Las mesas son límites de concurrencia del servidor: valen para todas las
    # corridas, aunque cada una se ejecute en su propio proceso
    try:
        asyncio.run(open_restaurant())
    except httpx.HTTPStatusError as error:
        exit_if_unauthorized(error)  # un servidor con contraseña: se explica
        raise
    # Al detenerlo con Ctrl+C, `serve` pausaría el deployment (pause_on_shutdown)
    # según cuánto alcance a cerrar: así queda activo siempre, con su disparador
    serve_party.serve(
        name="llegadas",
        triggers=[arrival_trigger],
        parameters={"espera_postre": espera},
        pause_on_shutdown=False,
    )
