"""La cuenta del restaurante: qué se cobra y cómo se escribe el ticket.

Solo se cobra lo servido, en centavos enteros. El ticket es Markdown, con el
nombre del grupo escapado para que no rompa su tabla ni inserte nada en la UI.
`Cobrar el servicio` publica ambos como artefactos de la corrida.
"""

import html
import re
from collections import Counter

import pandas as pd

from menu import MENU, money


def bill(pedido: pd.DataFrame, servidos: list[str]) -> pd.DataFrame:
    """Cobrar solo lo servido: precio del menú por cantidad, en centavos."""
    served = pd.Series(servidos, dtype="object").value_counts()
    cuenta = pedido.assign(cantidad=pedido["plato"].map(served).fillna(0).astype(int))
    cuenta = cuenta[cuenta["cantidad"] > 0].reset_index(drop=True)
    cuenta["subtotal_centavos"] = cuenta["cantidad"] * cuenta["precio_centavos"]
    return cuenta


def add_to_order(pedido: pd.DataFrame, plato: str) -> pd.DataFrame:
    """Sumar un plato al pedido (el postre), con su precio del menú."""
    if plato in set(pedido["plato"]):
        return pedido
    row = {
        "plato": plato,
        "cantidad": 1,
        "precio_centavos": MENU.loc[plato, "precio_centavos"],
    }
    return pd.concat([pedido, pd.DataFrame([row])], ignore_index=True)


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
    nombre: str, personas: int, mesa: int, cuenta: pd.DataFrame, no_servidos: list[str]
) -> str:
    """Escribir el ticket en Markdown, con el nombre escapado."""
    lines = [
        f"# Ticket de la mesa {mesa}",
        "",
        f"A nombre de **{escape_markdown(nombre)}**, {personas} personas.",
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
