"""El restaurante del tutorial: atender a una persona es un workflow de seis tasks.

`atender-persona` recibe al grupo, le asigna una mesa, toma el pedido, prepara
cada plato en un subflow `preparar-plato`, lleva la comida, cobra y despide.
`atender-turno` atiende a varios grupos a la vez. Las mesas son límites de
concurrencia de Prefect. Ejecutar con ``python restaurant/run_restaurant.py``
(``--help`` para elegir el grupo; ``--turno`` para un turno de varios grupos).
"""

import argparse
import asyncio
import html
import math
import os
import random
import re
import sys
import time
import unicodedata
from collections import Counter
from decimal import Decimal
from pathlib import Path
from uuid import UUID

import httpx
import pandas as pd
from prefect import flow, get_client, get_run_logger, runtime, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.client.schemas.objects import ConcurrencyLeaseHolder
from prefect.settings import get_current_settings
from pydantic import BaseModel, ValidationError, field_validator, model_validator
from pydantic_core import PydanticCustomError

HERE = Path(__file__).resolve().parent
TIME_SCALE_VARIABLE = "RESTAURANTE_ESCALA_TIEMPO"
# Si el proceso muere con la mesa ocupada, Prefect la libera al vencer el lease
TABLE_LEASE_SECONDS = 600
POLL_SECONDS = 1.0
MAX_NAME_LENGTH = 60
# Entrada, principal, bebida y postre: cada plato es un subflow en la cocina
MAX_DISHES_PER_PERSON = 4


def load_menu(path: Path = HERE / "menu.csv") -> pd.DataFrame:
    """Leer el menú con el precio en centavos enteros, sin redondeos de float."""
    menu = pd.read_csv(path, dtype={"precio": str})
    cents = [Decimal(price) * 100 for price in menu["precio"]]
    if any(c != c.to_integral_value() for c in cents):
        raise ValueError(f"{path}: cada precio debe tener como máximo dos decimales")
    menu["precio_centavos"] = [int(c) for c in cents]
    menu["ingredientes"] = menu["ingredientes"].str.split(";")
    return menu.drop(columns="precio").set_index("plato")


def load_tables(path: Path = HERE / "mesas.csv") -> pd.DataFrame:
    """Leer las mesas, de la más chica a la más grande."""
    return pd.read_csv(path).sort_values(["asientos", "mesa"], ignore_index=True)


MENU = load_menu()
TABLES = load_tables()


def money(cents: int) -> str:
    """Escribir un importe en centavos como texto: 1490 -> '$14.90'."""
    return f"${cents // 100}.{cents % 100:02d}"


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


class Cocina(BaseModel):
    """Cómo trabaja la cocina: probabilidad de quemar un plato y semilla."""

    prob_quemar: float = 0.1
    semilla: int = 0

    @field_validator("prob_quemar", mode="before")
    @classmethod
    def check_rate(cls, value: object) -> float:
        """Exigir una probabilidad entre 0 y 1."""
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise invalid(f"prob_quemar debe ser un número; llegó {value!r}.")
        if not 0 <= value <= 1:
            raise invalid(f"prob_quemar debe estar entre 0 y 1; llegó {value}.")
        return float(value)


DEFAULT_KITCHEN = Cocina()


def time_scale() -> float:
    """Leer cuánto duran las esperas simuladas: 1 es normal, 0 es sin esperas."""
    raw = os.environ.get(TIME_SCALE_VARIABLE, "1")
    try:
        scale = float(raw)
    except ValueError:
        scale = math.nan
    if not math.isfinite(scale) or scale < 0:
        raise ValueError(
            f"{TIME_SCALE_VARIABLE} debe ser un número mayor o igual a 0 "
            f"(1 = tiempo normal, 0 = sin esperas); vale {raw!r}."
        )
    return scale


async def simulate(seconds: float) -> None:
    """Simular que una acción lleva `seconds` segundos, escalados."""
    await asyncio.sleep(seconds * time_scale())


def burns(cocina: Cocina, etiqueta: str, intento: int) -> bool:
    """Decidir, siempre igual para los mismos datos, si este intento se quema."""
    # Una semilla por plato e intento: el resultado no depende del orden en que
    # la cocina atiende los platos de varios grupos a la vez
    rng = random.Random(f"{cocina.semilla}|{etiqueta}|{intento}")
    return rng.random() < cocina.prob_quemar


class DishBurned(Exception):
    """Un plato se quemó en la cocina."""


class TablesNotOpen(RuntimeError):
    """Faltan los límites de concurrencia que representan las mesas."""


def table_limit(mesa: int) -> str:
    """Nombrar el límite de concurrencia de una mesa."""
    return f"mesa-{mesa}"


async def open_restaurant() -> None:
    """Crear (o poner al día) un límite de concurrencia de 1 por cada mesa."""
    async with get_client() as client:
        for mesa in TABLES["mesa"]:
            await client.upsert_global_concurrency_limit_by_name(
                table_limit(int(mesa)), limit=1
            )


async def free_tables(client, personas: int) -> list[int]:
    """Verificar qué mesas donde entra el grupo están libres, de menor a mayor."""
    limits = {
        limit.name: limit
        for limit in await client.read_global_concurrency_limits(limit=200)
    }
    fitting = [int(m) for m in TABLES.loc[TABLES["asientos"] >= personas, "mesa"]]
    missing = [table_limit(m) for m in fitting if table_limit(m) not in limits]
    if missing:
        # Prefect ignora en silencio un límite que no existe: aquí fallamos
        raise TablesNotOpen(
            f"No existen los límites de concurrencia {', '.join(missing)}. Abra el "
            "restaurante con open_restaurant() (run_restaurant.py lo hace) o con "
            f"`prefect gcl create {missing[0]} --limit 1`."
        )
    return [
        m
        for m in fitting
        if limits[table_limit(m)].active_slots < limits[table_limit(m)].limit
    ]


async def take_table(client, mesa: int) -> UUID | None:
    """Ocupar la mesa si sigue libre; devolver el lease, o None si se la ganaron."""
    holder = None
    if runtime.flow_run.id:
        holder = ConcurrencyLeaseHolder(type="flow_run", id=runtime.flow_run.id)
    try:
        response = await client.increment_concurrency_slots_with_lease(
            names=[table_limit(mesa)],
            slots=1,
            mode="concurrency",
            lease_duration=TABLE_LEASE_SECONDS,
            holder=holder,
        )
    except httpx.HTTPStatusError as error:
        if error.response.status_code == 423:  # Locked: otro grupo llegó antes
            return None
        raise
    return UUID(response.json()["lease_id"])


async def release_table(lease_id: UUID) -> None:
    """Liberar la mesa: devolver su lugar en el límite de concurrencia."""
    async with get_client() as client:
        await client.release_concurrency_slots_with_lease(lease_id)


@task(name="Recibir a la persona")
async def receive_person(grupo: Grupo) -> None:
    """Dar la bienvenida al grupo en la puerta."""
    logger = get_run_logger()
    logger.info(
        "Bienvenida, %s: mesa para %d, por favor.", grupo.nombre, grupo.personas
    )
    await simulate(1)


@task(name="Asignar mesa")
async def assign_table(grupo: Grupo) -> dict:
    """Verificar mesas disponibles, preparar la mesa y llevar al grupo a ella."""
    logger = get_run_logger()
    waiting = False
    async with get_client() as client:
        while True:
            free = await free_tables(client, grupo.personas)
            for mesa in free:
                lease_id = await take_table(client, mesa)
                if lease_id:
                    break
            else:
                if not waiting:
                    logger.info(
                        "Verificar mesas disponibles: todas las mesas para %d están "
                        "ocupadas; %s espera a que se libere una.",
                        grupo.personas,
                        grupo.nombre,
                    )
                    waiting = True
                await asyncio.sleep(POLL_SECONDS)
                continue
            break
    seated_at = time.time()
    seats = int(TABLES.loc[TABLES["mesa"] == mesa, "asientos"].iloc[0])
    logger.info(
        "Verificar mesas disponibles: libres para %d: %s; la más chica es la %d "
        "(%d asientos).",
        grupo.personas,
        ", ".join(map(str, free)),
        mesa,
        seats,
    )
    try:
        await simulate(1)
        logger.info("Preparar la mesa %d: mantel, cubiertos y %d vasos.", mesa, seats)
        await simulate(1)
        logger.info(
            "Llevar a la persona a la mesa: %s ya está en la mesa %d.",
            grupo.nombre,
            mesa,
        )
    except BaseException:
        await release_table(lease_id)
        raise
    return {"mesa": mesa, "lease_id": lease_id, "sentado": seated_at}


@task(name="Tomar pedido")
async def take_order(grupo: Grupo) -> pd.DataFrame:
    """Anotar cuántos de cada plato pide el grupo y a qué precio."""
    logger = get_run_logger()
    order = (
        pd.DataFrame({"plato": grupo.pedido})
        .groupby("plato", sort=False)
        .size()
        .reset_index(name="cantidad")
    )
    order["precio_centavos"] = order["plato"].map(MENU["precio_centavos"])
    await simulate(2)
    for row in order.itertuples():
        logger.info(
            "Pedido: %d × %s (%s c/u).",
            row.cantidad,
            row.plato,
            money(row.precio_centavos),
        )
    return order


@task(name="Reunir ingredientes")
async def gather_ingredients(plato: str) -> list[str]:
    """Juntar los ingredientes del plato según el menú."""
    ingredients = list(MENU.loc[plato, "ingredientes"])
    get_run_logger().info(
        "Reunir ingredientes de %s: %s.", plato, ", ".join(ingredients)
    )
    await simulate(1)
    return ingredients


@task(name="Cocinar", retries=2, retry_delay_seconds=1)
async def cook(plato: str, etiqueta: str, cocina: Cocina) -> None:
    """Cocinar el plato; a veces se quema y Prefect reintenta la task."""
    attempt = max(runtime.task_run.run_count, 1)
    await simulate(int(MENU.loc[plato, "segundos_preparacion"]))
    if burns(cocina, etiqueta, attempt):
        raise DishBurned(f"Se quemó {plato} (intento {attempt}).")
    get_run_logger().info("Cocinar %s: listo en el intento %d.", plato, attempt)


@task(name="Emplatar")
async def plate(plato: str) -> str:
    """Servir el plato cocinado en su plato."""
    await simulate(1)
    get_run_logger().info("Emplatar %s.", plato)
    return plato


@flow(name="preparar-plato", flow_run_name="preparar-{etiqueta}")
async def prepare_dish(plato: str, etiqueta: str, cocina: Cocina) -> str:
    """Preparar un plato: reunir ingredientes, cocinar y emplatar."""
    await gather_ingredients(plato)
    await cook(plato, etiqueta, cocina)
    return await plate(plato)


@task(name="Llevar la comida")
async def bring_food(grupo: Grupo, mesa: int, servidos: list[str]) -> None:
    """Llevar a la mesa los platos que salieron de la cocina."""
    await simulate(1)
    get_run_logger().info(
        "Llevar la comida a la mesa %d: %s.", mesa, ", ".join(servidos) or "nada"
    )


def dish_list(platos: list[str]) -> str:
    """Nombrar platos con su cantidad: ['A', 'B', 'A'] -> '2 × A, B'."""
    counts = Counter(platos)
    return ", ".join(f"{n} × {p}" if n > 1 else p for p, n in counts.items())


def escape_markdown(text: str) -> str:
    """Escapar HTML y Markdown para que un nombre no rompa ni inyecte el ticket."""
    return re.sub(
        r"([\\`*_{}\[\]()#+\-.!|~>])", r"\\\1", html.escape(text, quote=False)
    )


def bill_table(cuenta: pd.DataFrame) -> list[dict]:
    """Armar las filas del artefacto de la cuenta, con el total al final."""
    rows = [
        {
            "plato": row.plato,
            "cantidad": int(row.cantidad),
            "precio": money(int(row.precio_centavos)),
            "subtotal": money(int(row.subtotal_centavos)),
        }
        for row in cuenta.itertuples()
    ]
    total = int(cuenta["subtotal_centavos"].sum())
    rows.append(
        {"plato": "Total", "cantidad": "", "precio": "", "subtotal": money(total)}
    )
    return rows


def ticket_markdown(
    grupo: Grupo, mesa: int, cuenta: pd.DataFrame, no_servidos: list[str]
) -> str:
    """Escribir el ticket en Markdown, con el nombre escapado."""
    lines = [
        f"# Ticket de la mesa {mesa}",
        "",
        f"A nombre de **{escape_markdown(grupo.nombre)}**, {grupo.personas} personas.",
        "",
        "| Plato | Cantidad | Precio | Subtotal |",
        "|---|---:|---:|---:|",
    ]
    for row in cuenta.itertuples():
        lines.append(
            f"| {row.plato} | {row.cantidad} | {money(int(row.precio_centavos))} "
            f"| {money(int(row.subtotal_centavos))} |"
        )
    lines += ["", f"**Total: {money(int(cuenta['subtotal_centavos'].sum()))}**"]
    if no_servidos:
        lines += ["", f"No servido y no cobrado: {dish_list(no_servidos)}."]
    return "\n".join(lines + ["", "¡Gracias por su visita!"])


@task(name="Cobrar el servicio")
async def charge(
    grupo: Grupo,
    mesa: int,
    pedido: pd.DataFrame,
    servidos: list[str],
    no_servidos: list[str],
) -> pd.DataFrame:
    """Cobrar solo lo servido: precio del menú por cantidad, en centavos."""
    served = pd.Series(servidos, dtype="object").value_counts()
    cuenta = pedido.assign(cantidad=pedido["plato"].map(served).fillna(0).astype(int))
    cuenta = cuenta[cuenta["cantidad"] > 0].reset_index(drop=True)
    cuenta["subtotal_centavos"] = cuenta["cantidad"] * cuenta["precio_centavos"]
    await create_table_artifact(
        bill_table(cuenta), key="cuenta", description=f"Cuenta de la mesa {mesa}"
    )
    await create_markdown_artifact(
        ticket_markdown(grupo, mesa, cuenta, no_servidos),
        key="ticket",
        description=f"Ticket de la mesa {mesa}",
    )
    await simulate(1)
    get_run_logger().info(
        "Cobrar el servicio: %s por %d platos.",
        money(int(cuenta["subtotal_centavos"].sum())),
        int(cuenta["cantidad"].sum()),
    )
    return cuenta


@task(name="Despedir a la persona")
async def say_goodbye(grupo: Grupo, no_servidos: list[str]) -> None:
    """Despedir al grupo; si algo no se pudo servir, pedir disculpas."""
    logger = get_run_logger()
    if no_servidos:
        logger.warning(
            "Disculpe, %s: no pudimos servir %s y no se lo cobramos.",
            grupo.nombre,
            dish_list(no_servidos),
        )
    await simulate(1)
    logger.info("Despedir a la persona: ¡gracias por venir, %s!", grupo.nombre)


@flow(name="atender-persona", flow_run_name="atender-{grupo.nombre}")
async def serve_party(grupo: Grupo, cocina: Cocina = DEFAULT_KITCHEN) -> dict:
    """Atender a un grupo de principio a fin, con una mesa ocupada mientras come."""
    await receive_person(grupo)
    seat = await assign_table(grupo)
    try:
        pedido = await take_order(grupo)
        # Cada plato es un subflow; la cocina prepara los platos a la vez
        states = await asyncio.gather(
            *(
                prepare_dish(
                    plato, f"{grupo.nombre}-{i}-{plato}", cocina, return_state=True
                )
                for i, plato in enumerate(grupo.pedido, 1)
            )
        )
        servidos, no_servidos = [], []
        for plato, state in zip(grupo.pedido, states, strict=True):
            (servidos if state.is_completed() else no_servidos).append(plato)
        await bring_food(grupo, seat["mesa"], servidos)
        cuenta = await charge(grupo, seat["mesa"], pedido, servidos, no_servidos)
        await say_goodbye(grupo, no_servidos)
    finally:
        left_at = time.time()
        await release_table(seat["lease_id"])
        get_run_logger().info("Mesa %d libre.", seat["mesa"])
    return {
        "nombre": grupo.nombre,
        "personas": grupo.personas,
        "mesa": seat["mesa"],
        "servidos": servidos,
        "no_servidos": no_servidos,
        "cuenta": cuenta,
        "total_centavos": int(cuenta["subtotal_centavos"].sum()),
        "sentado": seat["sentado"],
        "liberado": left_at,
    }


@flow(name="atender-turno")
async def serve_shift(llegadas: list[dict], cocina: Cocina = DEFAULT_KITCHEN) -> dict:
    """Atender a la vez a todos los grupos de un turno; avisar a los que no."""
    logger = get_run_logger()
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
            logger.warning("No podemos atender a %r: %s", nombre, describe(error))
    # La puerta deja pasar tantos grupos como mesas hay: más flows a la vez no
    # terminan antes y sobrecargan al servidor (ver "Rendimiento" en el README)
    door = asyncio.Semaphore(len(TABLES))

    async def enter(grupo: Grupo):
        async with door:
            return await serve_party(grupo, cocina, return_state=True)

    states = await asyncio.gather(*(enter(grupo) for grupo in grupos))
    atendidos = [await s.aresult() for s in states if s.is_completed()]
    fallidos = [
        {"nombre": g.nombre, "motivo": s.message}
        for g, s in zip(grupos, states, strict=True)
        if not s.is_completed()
    ]
    logger.info(
        "Turno terminado: %d atendidos, %d rechazados, %d con problemas.",
        len(atendidos),
        len(rechazados),
        len(fallidos),
    )
    return {"atendidos": atendidos, "rechazados": rechazados, "fallidos": fallidos}


SAMPLE_PARTY = {
    "nombre": "Ana",
    "personas": 3,
    "pedido": ["Empanadas", "Milanesa con papas", "Limonada"],
}
SAMPLE_SHIFT = [
    SAMPLE_PARTY,
    {"nombre": "Bruno", "personas": 2, "pedido": ["Ravioles", "Limonada"]},
    {"nombre": "Carla", "personas": 4, "pedido": ["Empanadas", "Empanadas"]},
    {"nombre": "Diego", "personas": 6, "pedido": ["Milanesa con papas"]},
    {"nombre": "Elena", "personas": 1, "pedido": ["Ensalada mixta"]},
    {"nombre": "Familia Pérez", "personas": 9, "pedido": ["Ravioles"]},
]


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


async def open_and_serve(grupo: Grupo) -> dict:
    """Abrir el restaurante (crear las mesas) y atender a un grupo."""
    await open_restaurant()
    return await serve_party(grupo)


def main(argv: list[str] | None = None) -> int:
    """Atender al grupo pedido, o el turno de ejemplo, y mostrar la cuenta."""
    parser = party_parser("Atender un grupo en el restaurante.")
    parser.add_argument(
        "--turno", action="store_true", help="atender el turno de ejemplo"
    )
    args = parser.parse_args(argv)
    if args.turno:
        result = asyncio.run(serve_shift(SAMPLE_SHIFT))
        for party in result["atendidos"]:
            total = money(party["total_centavos"])
            print(f"{party['nombre']}: mesa {party['mesa']}, {total}")
        for party in result["rechazados"] + result["fallidos"]:
            print(f"No atendido: {party['nombre']}. {party['motivo']}")
    else:
        try:
            grupo = party_from_args(args)
        except ValidationError as error:
            print(
                f"No podemos atender a este grupo:\n{describe(error)}", file=sys.stderr
            )
            return 2
        result = asyncio.run(open_and_serve(grupo))
        print(f"\nCuenta de {grupo.nombre}, mesa {result['mesa']}:")
        print(result["cuenta"].to_string(index=False))
        print(f"Total: {money(result['total_centavos'])}")
    if not get_current_settings().api.url:
        # La corrida quedó en la base de datos de PREFECT_HOME, la misma que
        # muestra `prefect server start`
        print(
            "\nEsta corrida usó un servidor temporal de Prefect, sin interfaz web,\n"
            "que se apaga con el script. Quedó guardada: para verla, abre `prefect\n"
            "server start` en otra terminal y entra en http://127.0.0.1:4200."
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
