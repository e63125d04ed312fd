"""Quién llega al restaurante y qué puede pedir: el modelo `Grupo`.

`Grupo` es un modelo de pydantic: Prefect valida con él el parámetro `grupo` de
`atender-persona` antes de ejecutar cualquier task, y cada regla rechaza los
datos inválidos con un mensaje en español que dice qué está mal y qué se admite.
También arma el grupo desde la línea de comandos (`--nombre`, `--personas`,
`--plato`), para `run_restaurant.py` y `anunciar_llegada.py`.
"""

import argparse
import re
import unicodedata

from pydantic import BaseModel, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError

from menu import MENU
from mesas import TABLES

MAX_NAME_LENGTH = 60
# Entrada, principal, bebida y postre: cada plato es un subflow en la cocina
MAX_DISHES_PER_PERSON = 4


def invalid(message: str) -> PydanticCustomError:
    """Crear un error de validación con un mensaje en español, tal cual."""
    return PydanticCustomError("restaurante", "{mensaje}", {"mensaje": message})


def describe(error: ValidationError) -> str:
    """Juntar los mensajes de un error de validación, uno por línea."""
    return "\n".join(detail["msg"] for detail in error.errors())


class Grupo(BaseModel):
    """Un grupo que llega al restaurante: a nombre de quién, cuántos y qué piden."""

    nombre: str
    personas: int
    pedido: list[str]

    @model_validator(mode="before")
    @classmethod
    def check_fields(cls, data: object) -> object:
        """Exigir exactamente los campos nombre, personas y pedido."""
        if not isinstance(data, dict):
            raise invalid("Un grupo se describe con nombre, personas y pedido.")
        missing = [
            field for field in ("nombre", "personas", "pedido") if field not in data
        ]
        unknown = sorted(set(data) - {"nombre", "personas", "pedido"})
        if missing:
            raise invalid(f"Falta el campo {', '.join(missing)} del grupo.")
        if unknown:
            raise invalid(
                f"Campo desconocido {', '.join(unknown)}: "
                "los campos son nombre, personas y pedido."
            )
        return data

    @field_validator("nombre", mode="before")
    @classmethod
    def check_name(cls, value: object) -> str:
        """Exigir un nombre de una línea, sin caracteres de control ni en blanco."""
        if not isinstance(value, str) or not value.strip():
            raise invalid("El nombre no puede estar vacío: ¿a nombre de quién?")
        # Un salto de línea en el nombre partiría el nombre de la corrida, los
        # logs y el ticket: se rechaza en lugar de corregirlo a escondidas
        if any(unicodedata.category(c) in ("Cc", "Zl", "Zp") for c in value.strip()):
            raise invalid(
                "El nombre va en una sola línea, sin saltos de línea, tabuladores ni "
                f"otros caracteres de control; llegó {value!r}."
            )
        if len(value.strip()) > MAX_NAME_LENGTH:
            raise invalid(f"El nombre admite hasta {MAX_NAME_LENGTH} caracteres.")
        return value.strip()

    @field_validator("personas", mode="before")
    @classmethod
    def check_size(cls, value: object) -> int:
        """Exigir un número entero de personas que quepa en alguna mesa."""
        if isinstance(value, bool) or not isinstance(value, int):
            raise invalid(
                f"La cantidad de personas debe ser un número entero; llegó {value!r}."
            )
        largest = int(TABLES["asientos"].max())
        if value < 1:
            raise invalid(
                f"La cantidad de personas debe ser al menos 1; llegó {value}."
            )
        if value > largest:
            raise invalid(
                f"No tenemos mesa para {value} personas: "
                f"la mesa más grande es de {largest}."
            )
        return value

    @field_validator("pedido", mode="before")
    @classmethod
    def check_order(cls, value: object) -> list[str]:
        """Exigir al menos un plato, y solo platos del menú."""
        dishes = ", ".join(MENU.index)
        if isinstance(value, str):
            raise invalid(
                f"El pedido es una lista de platos, no un texto; llegó {value!r}. "
                f"Por ejemplo: [{value!r}]."
            )
        if not isinstance(value, list):
            raise invalid(
                f"El pedido es una lista de platos; llegó {type(value).__name__}."
            )
        if not value:
            raise invalid(f"El pedido está vacío; el menú tiene: {dishes}.")
        by_name = {dish.casefold(): dish for dish in MENU.index}
        unknown = [
            repr(item)
            for item in value
            if not isinstance(item, str) or item.strip().casefold() not in by_name
        ]
        if unknown:
            raise invalid(
                f"No está en el menú: {', '.join(unknown)}. El menú tiene: {dishes}."
            )
        return [by_name[item.strip().casefold()] for item in value]

    @model_validator(mode="after")
    def check_order_size(self) -> "Grupo":
        """Limitar el pedido a lo que un grupo de ese tamaño puede comer."""
        most = MAX_DISHES_PER_PERSON * self.personas
        if len(self.pedido) > most:
            raise invalid(
                f"Un pedido admite hasta {MAX_DISHES_PER_PERSON} platos por persona: "
                f"para {self.personas} personas, hasta {most}; llegaron "
                f"{len(self.pedido)}."
            )
        return self


SAMPLE_PARTY = {
    "nombre": "Ana",
    "personas": 3,
    "pedido": ["Empanadas", "Milanesa con papas", "Limonada"],
}


def party_parser(description: str) -> argparse.ArgumentParser:
    """Armar los argumentos que describen un grupo (por defecto, el de ejemplo)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--nombre", default=SAMPLE_PARTY["nombre"])
    parser.add_argument("--personas", default=str(SAMPLE_PARTY["personas"]))
    parser.add_argument(
        "--plato",
        action="append",
        dest="pedido",
        help="un plato del menú; repetir para pedir varios",
    )
    return parser


def party_from_args(args: argparse.Namespace) -> Grupo:
    """Validar el grupo de la línea de comandos; ValidationError si no sirve."""
    raw = args.personas
    return Grupo(
        nombre=args.nombre,
        personas=int(raw) if raw.lstrip("-").isdigit() else raw,
        pedido=args.pedido or SAMPLE_PARTY["pedido"],
    )


def person_resource(nombre: str) -> dict[str, str]:
    """El recurso de los eventos de un grupo: `restaurante.persona.<nombre>`.

    Las automations agrupan los eventos por este id (`for_each`): los de Ana
    cuentan para Ana, aunque lleguen otros grupos a la vez.
    """
    slug = re.sub(r"[^a-z0-9]+", "-", nombre.lower()).strip("-") or "grupo"
    return {"prefect.resource.id": f"restaurante.persona.{slug}"}
