"""Cobrar el servicio en tres tasks que van juntas (capítulo 10, paso 8).

Muestra las tasks que el paso 8 pone en una transacción: reservar el monto en
la caja, imprimir el ticket y cerrar la cuenta, y el hook `on_rollback` de la
reserva, que la anula si otra task de la misma transacción falla. También
dónde queda guardada la transacción (`bills`): ahí la busca una corrida que
repite la comanda, y ahí la lee `cuenta_guardada.py` desde otro proceso. Y la
probabilidad de atasco del día, leída de una Variable del servidor
(`todays_jam_rate`).
No se ejecuta solo: lo importa ``restaurant/paso8_cobro.py``.
"""

import re

import pandas as pd
from prefect import runtime, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.filesystems import LocalFileSystem
from prefect.results import ResultStore
from prefect.settings import get_current_settings
from prefect.variables import Variable

import caja
from cocina import simulate
from cuenta import bill_table, ticket_markdown
from grupo import Grupo, invalid
from menu import money


def bills() -> ResultStore:
    """Dónde se guardan las transacciones del cobro: la carpeta `cuentas` de la
    carpeta de Prefect (`~/.prefect/cuentas`), un archivo por comanda."""
    folder = get_current_settings().home / "cuentas"
    return ResultStore(result_storage=LocalFileSystem(basepath=str(folder)))


def check_comanda(value: object) -> str | None:
    """Exigir una comanda corta de letras, números, - o _ (nombra un archivo)."""
    if value is None:
        return None
    if not isinstance(value, str) or not re.fullmatch(r"[A-Za-z0-9_-]{1,40}", value):
        raise invalid(
            f"La comanda va de 1 a 40 letras sin acento, números, - o _; "
            f"llegó {value!r}."
        )
    return value


def jam_rate(value: object) -> float | None:
    """Exigir una probabilidad de atasco de la impresora entre 0 y 1 (o None:
    la que diga la variable del día)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise invalid(f"atasco debe ser un número; llegó {value!r}.")
    if not 0 <= value <= 1:
        raise invalid(f"atasco debe estar entre 0 y 1; llegó {value}.")
    return float(value)


# La probabilidad de atasco de cada día no está en el código: es una Variable
# del servidor de Prefect, que se cambia con la CLI o en la UI
JAM_VARIABLE = "atasco-impresora"


class BadVariable(Exception):
    """Una Variable del servidor tiene un valor que no sirve."""


async def todays_jam_rate() -> float:
    """Leer la Variable `atasco-impresora` (0 si no existe) y exigir que sirva."""
    value = await Variable.aget(JAM_VARIABLE, default=0)
    try:
        return jam_rate(value)
    except ValueError as error:
        raise BadVariable(
            f"La variable {JAM_VARIABLE} no sirve: {error}\n"
            f"Dale un número entre 0 y 1, por ejemplo:\n"
            f"  prefect variable set {JAM_VARIABLE} 0.2 --overwrite"
        ) from None


@task(name="Reservar el monto")
async def reserve_amount(comanda: str, mesa: int, centavos: int) -> None:
    """Apartar el total en la caja (con la comanda: nunca dos veces)."""
    cobro = caja.reserve(comanda, mesa, centavos)
    print(f"Reservar el monto: {money(cobro['centavos'])}, comanda {comanda}.")


@reserve_amount.on_rollback
async def void_reservation(transaction) -> None:
    """Si otra task de la transacción falla, anular la reserva y avisarlo."""
    comanda = transaction.get("comanda")  # la puso el flow en la transacción
    caja.void(comanda)
    print(f"Cobro anulado: la comanda {comanda} no se cobra.")
    await create_markdown_artifact(
        f"# Cobro anulado\n\nEl cobro de la comanda {comanda} falló y se anuló: "
        "no se cobró nada.",
        key="ticket",
        description="Cobro anulado",
    )


@task(name="Imprimir el ticket")
async def print_ticket(
    grupo: Grupo, mesa: int, cuenta: pd.DataFrame, no_servidos: list[str], atasco: float
) -> None:
    """Publicar la cuenta y el ticket; a veces la impresora se traba."""
    if caja.jams(atasco, str(runtime.flow_run.id), runtime.flow_run.run_count):
        raise caja.PrinterJammed(f"Se trabó la impresora de la mesa {mesa}.")
    await simulate(1)  # imprimiendo: recién después el ticket existe
    await create_table_artifact(
        bill_table(cuenta), key="cuenta", description=f"Cuenta de la mesa {mesa}"
    )
    await create_markdown_artifact(
        ticket_markdown(grupo.nombre, grupo.personas, mesa, cuenta, no_servidos),
        key="ticket",
        description=f"Ticket de la mesa {mesa}",
    )
    print(f"Imprimir el ticket de la mesa {mesa}.")


@task(name="Cerrar la cuenta")
async def close_account(comanda: str) -> None:
    """Cerrar la cuenta en la caja: el monto reservado queda cobrado."""
    cobro = caja.close(comanda)
    print(f"Cerrar la cuenta: {money(cobro['centavos'])} cobrados.")
