"""Las automations que avisan al gerente (capítulo 12), creadas con código.

Muestra un bloque de notificación (un webhook hacia gerente.py) y automations
del servidor: una reacciona a un evento (un plato que no sale), otra a uno que
no llegó a tiempo (un grupo recibido que nadie sentó: un disparador proactivo),
y otra marca Crashed la corrida que dejó de dar latidos. Volver a ejecutarlo las
reemplaza. Necesita `prefect server start`. Ejecutar con
``python restaurant/avisar_al_gerente.py`` (``--help``: puerto y esperas).
"""

import argparse
import asyncio
import sys
from datetime import timedelta

import httpx
from prefect.automations import Automation
from prefect.blocks.notifications import CustomWebhookNotificationBlock
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import StateType
from prefect.events.actions import ChangeFlowRunState, SendNotification
from prefect.events.schemas.automations import EventTrigger, Posture
from prefect.settings import get_current_settings

from acceso import exit_if_unauthorized
from cocina_cola import check_kitchen_server
from gerente import PORT

PHONE = "telefono-gerente"  # el nombre del bloque
SEAT_WAIT = 60  # segundos que un grupo recibido puede esperar mesa
MIN_WAIT = 10  # el plazo más corto de un disparador proactivo en Prefect
MISSED_BEATS = 3  # latidos seguidos sin llegar: la corrida se cortó


def automations(phone: str, seat_wait: int, beat: int) -> list[Automation]:
    """Las automations del gerente; `phone` es el id del bloque del teléfono."""

    def notify(subject: str, body: str) -> SendNotification:
        return SendNotification(block_document_id=phone, subject=subject, body=body)

    every_party = {"prefect.resource.id": "restaurante.persona.*"}
    return [
        # Reactiva: cada evento plato.no-salio dispara un aviso. El mensaje se
        # arma con los datos del evento ({{ event.payload... }})
        Automation(
            name="plato-que-no-sale",
            trigger=EventTrigger(
                expect={"restaurante.plato.no-salio"},
                match=every_party,
                posture=Posture.Reactive,
                threshold=1,
            ),
            actions=[
                notify(
                    "Un plato no sale",
                    "{{ event.payload.plato }} para {{ event.payload.grupo }} "
                    "(mesa {{ event.payload.mesa }}): {{ event.payload.motivo }}",
                )
            ],
        ),
        # Proactiva: después de persona.recibida, se espera persona.sentada del
        # mismo grupo (for_each) en seat_wait segundos; si no llega, avisa
        Automation(
            name="grupo-sin-mesa",
            trigger=EventTrigger(
                after={"restaurante.persona.recibida"},
                expect={"restaurante.persona.sentada"},
                match=every_party,
                for_each={"prefect.resource.id"},
                posture=Posture.Proactive,
                threshold=1,
                within=timedelta(seconds=seat_wait),
            ),
            actions=[
                notify(
                    "Un grupo espera mesa",
                    "{{ event.payload.grupo }} ({{ event.payload.personas }} "
                    f"personas) llegó hace {seat_wait} s y sigue sin mesa.",
                )
            ],
        ),
        # Proactiva sobre los eventos de Prefect: una corrida de atender-persona
        # da un latido cada `beat` segundos; si pasan MISSED_BEATS sin latido ni
        # final, el proceso murió y nadie lo dirá: se marca Crashed y se avisa
        Automation(
            name="corrida-sin-latidos",
            trigger=EventTrigger(
                after={"prefect.flow-run.heartbeat"},
                expect={
                    "prefect.flow-run.heartbeat",
                    "prefect.flow-run.Completed",
                    "prefect.flow-run.Failed",
                    "prefect.flow-run.Cancelled",
                    "prefect.flow-run.Crashed",
                },
                match={"prefect.resource.id": "prefect.flow-run.*"},
                match_related={
                    "prefect.resource.role": "flow",
                    "prefect.resource.name": "atender-persona",
                },
                for_each={"prefect.resource.id"},
                posture=Posture.Proactive,
                threshold=1,
                within=timedelta(seconds=MISSED_BEATS * beat),
            ),
            actions=[
                ChangeFlowRunState(
                    state=StateType.CRASHED,
                    message=f"Sin latidos en {MISSED_BEATS * beat} s: el proceso "
                    "de la corrida murió (automation corrida-sin-latidos).",
                ),
                notify(
                    "Una corrida se cortó",
                    "{{ flow_run.name }} no da latidos hace "
                    f"{MISSED_BEATS * beat} s: quedó Crashed.",
                ),
            ],
        ),
    ]


async def install(port: int, seat_wait: int, beat: int) -> list[str]:
    """Crear el bloque y las automations (reemplazando las anteriores)."""
    phone = CustomWebhookNotificationBlock(
        name=PHONE,
        url=f"http://127.0.0.1:{port}/",
        # {{subject}} y {{body}} son el asunto y el texto de cada aviso
        json_data={"asunto": "{{subject}}", "mensaje": "{{body}}"},
    )
    phone_id = await phone.save(PHONE, overwrite=True)
    created = []
    async with get_client() as client:
        for automation in automations(phone_id, seat_wait, beat):
            for old in await client.read_automations_by_name(automation.name):
                await client.delete_automation(old.id)
            await automation.acreate()
            created.append(automation.name)
    return created


def main(argv: list[str] | None = None) -> int:
    """Crear el teléfono del gerente y sus automations en el servidor."""
    parser = argparse.ArgumentParser(description="Avisar al gerente.")
    parser.add_argument(
        "--puerto", type=int, default=PORT, help="donde escucha gerente.py"
    )
    parser.add_argument(
        "--espera-mesa",
        type=int,
        default=SEAT_WAIT,
        help=f"segundos que un grupo puede esperar mesa (por defecto {SEAT_WAIT})",
    )
    args = parser.parse_args(argv)
    if not 1 <= args.puerto <= 65535:
        print(f"--puerto va de 1 a 65535; llegó {args.puerto}.", file=sys.stderr)
        return 2
    if args.espera_mesa < MIN_WAIT:  # Prefect no vigila plazos más cortos
        print(
            f"--espera-mesa debe ser {MIN_WAIT} o más (segundos); llegó "
            f"{args.espera_mesa}.",
            file=sys.stderr,
        )
        return 2
    if problem := check_kitchen_server():  # las automations viven en el servidor
        print(problem, file=sys.stderr)
        return 1
    # Cada cuánto late una corrida: lo dice el prefect.toml del repositorio
    beat = get_current_settings().flows.heartbeat_frequency or 180
    try:
        created = asyncio.run(install(args.puerto, args.espera_mesa, beat))
    except httpx.HTTPStatusError as error:
        exit_if_unauthorized(error)  # un servidor con contraseña: se explica
        raise
    print(f"Bloque {PHONE}: avisos a http://127.0.0.1:{args.puerto}/")
    for name in created:
        print(f"Automation {name} creada.")
    print(
        f"Latidos de cada corrida: cada {beat} s (PREFECT_FLOWS_HEARTBEAT_FREQUENCY)."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
