"""El menú del restaurante: platos, precios e ingredientes, leídos de menu.csv.

No tiene nada de Prefect: son datos, leídos con pandas, que el flow usa para
tomar el pedido, preparar cada plato y cobrar. Los precios se guardan en
centavos enteros, para que la cuenta no sufra redondeos de float.
"""

from decimal import Decimal
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent


def load_menu(path: Path = HERE / "menu.csv") -> pd.DataFrame:
    """Leer el menú con el precio en centavos enteros, sin redondeos de float."""
    menu = pd.read_csv(path, dtype={"precio": str})
    cents = [Decimal(price) * 100 for price in menu["precio"]]
    if any(c != c.to_integral_value() for c in cents):
        raise ValueError(f"{path}: cada precio debe tener como máximo dos decimales")
    menu["precio_centavos"] = [int(c) for c in cents]
    menu["ingredientes"] = menu["ingredientes"].str.split(";")
    return menu.drop(columns="precio").set_index("plato")


MENU = load_menu()


def money(cents: int) -> str:
    """Escribir un importe en centavos como texto: 1490 -> '$14.90'."""
    return f"${cents // 100}.{cents % 100:02d}"
