"""La línea de comandos de los pasos 5 a 9 del restaurante, compartida.

No es parte de la lección: lee el grupo (`--nombre`, `--personas`, `--plato`),
la cocina, desde el paso 6 el postre y desde el paso 8 la comanda y la
impresora (o la Variable del día); rechaza los datos inválidos en español antes
de empezar (y en el paso 9, si no hay servidor para la cola), abre el
restaurante, atiende al grupo y muestra la cuenta.
"""

import asyncio
import sys

import httpx
from prefect.settings import get_current_settings
from pydantic import ValidationError

from acceso import exit_if_unauthorized
from caja import NotReserved, PrinterJammed
from cobro import BadVariable, check_comanda, jam_rate, todays_jam_rate
from cocina import DEFAULT_KITCHEN, Cocina
from cocina_cola import check_kitchen_server
from grupo import describe, party_from_args, party_parser
from menu import money
from mesas import open_restaurant
from postre import ASK, DESSERT_WAIT_SECONDS, NO_DESSERT, dessert_choice, wait_seconds

NO_UI_TO_ASK = """Con --postre preguntar, la corrida espera a que elijas el postre en la
UI, y el servidor temporal de Prefect no tiene UI. Abre `prefect server start` en
otra terminal y ejecuta
  prefect config set PREFECT_API_URL=http://127.0.0.1:4200/api
o elige el postre de antemano: --postre "Flan con dulce de leche" o --postre ninguno."""


async def open_and_serve(serve_party, grupo, cocina, **postre) -> dict:
    """Abrir el restaurante (crear las mesas) y atender a un grupo."""
    await open_restaurant()
    if "atasco" in postre and postre["atasco"] is None:
        # Paso 8: el flow lee la Variable del día al empezar; aquí se lee antes
        # solo para explicar, sin sentar a nadie, una que no sirve
        await todays_jam_rate()
    return await serve_party(grupo, cocina, **postre)


def command_line(
    argv: list[str] | None,
    serve_party,
    *,
    dessert: bool,
    bill: bool = False,
    kitchen_queue: bool = False,
) -> int:
    """Atender con `serve_party` al grupo de los argumentos y mostrar la cuenta."""
    parser = party_parser("Atender un grupo en el restaurante.")
    parser.add_argument(
        "--prob-quemar", type=float, default=DEFAULT_KITCHEN.prob_quemar
    )
    parser.add_argument("--semilla", type=int, default=DEFAULT_KITCHEN.semilla)
    if dessert:
        parser.add_argument(
            "--postre",
            default=NO_DESSERT,
            help=f"un postre del menú, {NO_DESSERT!r} (por defecto) o {ASK!r} para "
            "elegirlo en la UI con la corrida en pausa",
        )
        parser.add_argument(
            "--espera-postre",
            type=int,
            default=DESSERT_WAIT_SECONDS,
            help="segundos que espera la respuesta con --postre preguntar",
        )
    if bill:
        parser.add_argument(
            "--comanda",
            help="la clave del cobro: la misma comanda no se cobra dos veces "
            "(por defecto, la corrida)",
        )
        parser.add_argument(
            "--atasco",
            type=float,
            help="probabilidad de que se trabe la impresora de tickets (0 a 1; por "
            "defecto, la de la variable atasco-impresora del servidor, o 0)",
        )
    args = parser.parse_args(argv)
    postre = {}
    try:
        grupo = party_from_args(args)
        cocina = Cocina(prob_quemar=args.prob_quemar, semilla=args.semilla)
        if dessert:
            postre = {
                "postre": dessert_choice(args.postre),
                "espera_postre": wait_seconds(args.espera_postre),
            }
        if bill:
            postre |= {
                "comanda": check_comanda(args.comanda),
                "atasco": jam_rate(args.atasco),
            }
    except (ValidationError, ValueError) as error:
        reason = describe(error) if isinstance(error, ValidationError) else error
        print(f"No podemos atender a este grupo:\n{reason}", file=sys.stderr)
        return 2
    if kitchen_queue and (problem := check_kitchen_server()):  # paso 9
        print(problem, file=sys.stderr)
        return 1
    if postre.get("postre") == ASK and not get_current_settings().api.url:
        print(NO_UI_TO_ASK, file=sys.stderr)
        return 2
    try:
        result = asyncio.run(open_and_serve(serve_party, grupo, cocina, **postre))
    except httpx.HTTPStatusError as error:
        exit_if_unauthorized(error)  # un servidor con contraseña: se explica
        raise
    except BadVariable as error:  # paso 8: nada se hizo, nada se cobró
        print(f"No podemos atender a este grupo:\n{error}", file=sys.stderr)
        return 1
    except PrinterJammed as error:  # paso 8: la transacción del cobro se deshizo
        comanda = postre.get("comanda")
        again = f" con la misma comanda --comanda {comanda}" if comanda else ""
        print(
            f"\nNo se pudo cobrar: {error} La reserva se anuló y no se cobró "
            f"nada.\nPara cobrar, vuelve a atender al grupo{again}: nunca se "
            "cobra dos veces.",
            file=sys.stderr,
        )
        return 1
    except NotReserved as error:  # paso 8: otra corrida anuló la reserva compartida
        comanda = postre.get("comanda")
        again = f" con la misma comanda --comanda {comanda}" if comanda else ""
        print(
            f"\nNo se pudo cobrar: {error} Otra corrida de la misma comanda, a la "
            "vez, pudo haberla anulado. No se cobró nada.\nPara cobrar, vuelve a "
            f"atender al grupo{again}.",
            file=sys.stderr,
        )
        return 1
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
