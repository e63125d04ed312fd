"""Solución del ejercicio del capítulo 13: probar una task del paso 1 con `.fn()`.

`charge` (Cobrar el servicio) suma los precios del menú de lo servido. La prueba
llama a su función original, sin Prefect ni servidor. Ejecutar con
``python -m pytest soluciones/test_cobrar_limonadas.py``.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "restaurant"))

import paso1_historia  # noqa: E402


def test_two_lemonades_cost_seven_fifty():
    assert paso1_historia.charge.fn(["Limonada", "Limonada"]) == 750
