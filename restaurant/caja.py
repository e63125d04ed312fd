"""La caja del restaurante: los cobros, fuera de Prefect (capítulo 10).

Es lo que en un restaurante de verdad sería la terminal de pago: guarda cada
cobro en su propio archivo (SQLite, en la carpeta de Prefect), así que lo que
pasó en la caja no depende de que la corrida termine bien. Un cobro pasa por
tres estados: `reservado` (el monto está apartado), `cobrado` (la cuenta se
cerró) o `anulado` (algo falló y no se cobra).

Como las pasarelas de pago, la caja recibe una clave: reservar otra vez con la
clave de una reserva vigente devuelve esa misma reserva en lugar de apartar el
monto dos veces. Esa clave es la comanda del grupo.
"""

import random
import sqlite3
import time
from contextlib import closing
from pathlib import Path

from prefect.settings import get_current_settings

RESERVED, CHARGED, VOIDED = "reservado", "cobrado", "anulado"


class PrinterJammed(Exception):
    """La impresora de tickets se trabó: el ticket no salió."""


class NotReserved(LookupError):
    """No hay monto reservado que cerrar (por ejemplo, otra corrida de la misma
    comanda, a la vez, anuló la reserva que compartían)."""


def ledger() -> Path:
    """El archivo de la caja, en la carpeta de Prefect (`~/.prefect`)."""
    return get_current_settings().home / "caja.sqlite"


def _open() -> sqlite3.Connection:
    path = ledger()
    path.parent.mkdir(parents=True, exist_ok=True)
    db = sqlite3.connect(path, timeout=30, isolation_level=None)
    db.row_factory = sqlite3.Row
    db.execute(
        "create table if not exists cobros (id integer primary key,"
        " comanda text not null, mesa integer not null, centavos integer not null,"
        " estado text not null, hora real not null)"
    )
    return db


def reserve(comanda: str, mesa: int, centavos: int) -> dict:
    """Apartar el monto de la comanda; si ya tiene uno vigente, devolver ese."""
    with closing(_open()) as db:
        db.execute("begin immediate")  # dos procesos a la vez: uno espera
        row = db.execute(
            "select * from cobros where comanda = ? and estado != ?",
            (comanda, VOIDED),
        ).fetchone()
        if row is None:
            db.execute(
                "insert into cobros (comanda, mesa, centavos, estado, hora)"
                " values (?, ?, ?, ?, ?)",
                (comanda, mesa, centavos, RESERVED, time.time()),
            )
            row = db.execute("select * from cobros where id = last_insert_rowid()")
            row = row.fetchone()
        db.execute("commit")
        return dict(row)


def close(comanda: str) -> dict:
    """Cerrar la cuenta: la reserva vigente de la comanda pasa a cobrada."""
    with closing(_open()) as db:
        db.execute(
            "update cobros set estado = ? where comanda = ? and estado = ?",
            (CHARGED, comanda, RESERVED),
        )
        row = db.execute(
            "select * from cobros where comanda = ? and estado = ?",
            (comanda, CHARGED),
        ).fetchone()
        if row is None:
            raise NotReserved(f"La comanda {comanda} no tiene un monto reservado.")
        return dict(row)


def void(comanda: str) -> int:
    """Anular la reserva vigente de la comanda; devuelve cuántas anuló (0 o 1)."""
    with closing(_open()) as db:
        return db.execute(
            "update cobros set estado = ? where comanda = ? and estado = ?",
            (VOIDED, comanda, RESERVED),
        ).rowcount


def charges(comanda: str | None = None) -> list[dict]:
    """Los cobros de la caja (de una comanda, o todos), en orden."""
    with closing(_open()) as db:
        rows = db.execute(
            "select * from cobros where ? is null or comanda = ? order by id",
            (comanda, comanda),
        ).fetchall()
    return [dict(row) for row in rows]


def jams(atasco: float, corrida: str, intento: int) -> bool:
    """¿Se traba la impresora en este intento? Con probabilidad `atasco`, y la
    misma respuesta para la misma corrida e intento (como la cocina)."""
    return random.Random(f"{corrida}-{intento}").random() < atasco
