"""El postre: qué se puede elegir, cómo se pregunta y qué pasa si nadie responde.

`Postre` es el formulario que la UI muestra en una corrida en pausa: Prefect
guarda su esquema, el servidor rechaza una respuesta que no cumple con él, y el
modelo vuelve a validarla con mensajes en español. `NobodyAnswers` responde
"ninguno" por el grupo cuando vence la espera, para que la corrida siga y libere
la mesa. Ver el capítulo 7, "El postre: un workflow que espera una respuesta".
"""

import asyncio
from uuid import UUID

from prefect import get_run_logger, runtime
from prefect.exceptions import FlowPauseTimeout, NotPausedError
from prefect.flow_runs import pause_flow_run, resume_flow_run
from prefect.input import RunInput
from pydantic import Field, field_validator

from grupo import invalid
from menu import MENU, money

NO_DESSERT = "ninguno"
ASK = "preguntar"
# Cuánto espera el grupo, ya comido, a que alguien elija su postre
DESSERT_WAIT_SECONDS = 120
# Cada cuánto mira la corrida en pausa si ya le respondieron
ANSWER_POLL_SECONDS = 1

DESSERTS = [str(plato) for plato in MENU.index[MENU["tipo"] == "postre"]]
CHOICES = [*DESSERTS, NO_DESSERT]


def dessert_or_none(value: object) -> str:
    """Aceptar un postre del menú (sin importar mayúsculas) o 'ninguno'."""
    allowed = f"Se puede elegir {', '.join(DESSERTS)} o {NO_DESSERT!r}"
    if not isinstance(value, str):
        raise invalid(f"El postre es un nombre; llegó {value!r}. {allowed}.")
    by_name = {plato.casefold(): plato for plato in MENU.index}
    wanted = value.strip().casefold()
    if wanted == NO_DESSERT:
        return NO_DESSERT
    if wanted not in by_name:
        raise invalid(f"No está en el menú: {value!r}. {allowed}.")
    plato = by_name[wanted]
    if plato not in DESSERTS:
        kind = MENU.loc[plato, "tipo"]
        raise invalid(f"{plato} no es un postre (es {kind}). {allowed}.")
    return plato


def dessert_choice(value: object) -> str:
    """Validar el parámetro `postre` del flow: un postre, 'ninguno' o 'preguntar'."""
    if isinstance(value, str) and value.strip().casefold() == ASK:
        return ASK
    try:
        return dessert_or_none(value)
    except ValueError as error:
        message = str(error).rstrip(".")
        raise invalid(f"{message}, o {ASK!r} para elegirlo en la UI.") from None


def wait_seconds(value: object) -> int:
    """Validar la espera del postre: segundos enteros, de 1 a una hora."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise invalid(
            f"La espera del postre es un número entero de segundos; llegó {value!r}."
        )
    if not 1 <= value <= 3600:
        raise invalid(
            f"La espera del postre va de 1 a 3600 segundos (una hora); llegó {value}."
        )
    return value


class Postre(RunInput):
    """El formulario del postre: la UI lo muestra al reanudar la corrida."""

    postre: str = Field(
        default=NO_DESSERT,
        title="Postre",
        description="; ".join(
            [f"{p} ({money(int(MENU.loc[p, 'precio_centavos']))})" for p in DESSERTS]
            + [f"{NO_DESSERT} (sin postre, no se cobra)"]
        ),
        # En el esquema, la lista de opciones: la UI muestra un desplegable y
        # el servidor rechaza cualquier otra respuesta antes de reanudar
        json_schema_extra={"enum": CHOICES},
    )

    @field_validator("postre", mode="before")
    @classmethod
    def check_dessert(cls, value: object) -> str:
        """Exigir un postre del menú o 'ninguno'."""
        return dessert_or_none(value)


def question(nombre: str, mesa: int, espera: int) -> str:
    """El texto en Markdown que la UI muestra sobre el formulario."""
    return (
        f"**¿Postre para {nombre}, en la mesa {mesa}?** Elige uno del menú, o "
        f"*{NO_DESSERT}*, y pulsa *Resume*. Si nadie responde en {espera} s, el "
        "grupo se va sin postre y no se le cobra."
    )


class NobodyAnswers:
    """Responder 'ninguno' por el grupo si nadie elige en `espera` segundos.

    Reanudar con una respuesta pasa por el servidor como cualquier otra: la
    corrida vuelve a *Running* y sigue hasta liberar la mesa. Si alguien
    responde antes, vale su respuesta y `stop()` devuelve False.
    """

    def __init__(self, flow_run_id: UUID, espera: float) -> None:
        self.answering = asyncio.Event()
        self.task = asyncio.create_task(self._answer(flow_run_id, espera))

    async def _answer(self, flow_run_id: UUID, espera: float) -> bool:
        await asyncio.sleep(espera)
        self.answering.set()
        try:
            await resume_flow_run(flow_run_id, run_input={"postre": NO_DESSERT})
        except (NotPausedError, FlowPauseTimeout, RuntimeError):
            return False  # alguien respondió justo antes: vale su respuesta
        return True

    async def stop(self) -> bool:
        """Dejar de esperar; True si la respuesta la dio el vencimiento."""
        if not self.answering.is_set():
            self.task.cancel()
            return False
        return await self.task


# El postre: la corrida queda en pausa hasta que alguien responde en la UI
async def ask_for_dessert(nombre: str, mesa: int, espera: int) -> str:
    """Preguntar si quieren postre y esperar la respuesta hasta `espera` segundos."""
    print(f"¿Postre? La corrida queda en pausa hasta {espera} s: elige en la UI.")
    nobody = NobodyAnswers(runtime.flow_run.id, espera)
    try:
        respuesta = await pause_flow_run(
            wait_for_input=Postre.with_initial_data(
                description=question(nombre, mesa, espera)
            ),
            timeout=espera + 60,  # de respaldo: a los `espera` s responde `nobody`
            poll_interval=ANSWER_POLL_SECONDS,
        )
    finally:
        timed_out = await nobody.stop()
    if timed_out:
        get_run_logger().warning(
            "Nadie eligió postre en %s s: %s se va sin postre y no se le cobra.",
            espera,
            nombre,
        )
    else:
        print(f"Postre elegido: {respuesta.postre}.")
    return respuesta.postre
