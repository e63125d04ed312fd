"""Solución del ejercicio 2: una semilla con la que se quema la milanesa de Ana.

Busca, probando semillas desde 0, la primera con la que la milanesa del grupo
de ejemplo se quema en todos sus intentos (3 intentos de Cocinar en cada una de
las 2 preparaciones del subflow) y los otros dos platos salen al primer intento.
Funciona sin servidor: no ejecuta ningún flow. Ejecutar con
``python soluciones/semilla_que_quema.py``.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "restaurant"))

from cocina import COOK_RETRIES, Cocina, burns  # noqa: E402

RATE = 0.5
# Las etiquetas que el flow da a cada plato del grupo de ejemplo (Ana)
BURNT = "Ana-2-Milanesa con papas"
SPARED = ["Ana-1-Empanadas", "Ana-3-Limonada"]
ATTEMPTS = range(1, 2 * (COOK_RETRIES + 1) + 1)  # 2 preparaciones


def find_seed() -> int:
    """Devolver la primera semilla que quema solo la milanesa, siempre."""
    for seed in range(100_000):
        kitchen = Cocina(prob_quemar=RATE, semilla=seed)
        if all(burns(kitchen, BURNT, n) for n in ATTEMPTS) and not any(
            burns(kitchen, label, 1) for label in SPARED
        ):
            return seed
    raise LookupError("Ninguna semilla hasta 100000 quema solo la milanesa.")


if __name__ == "__main__":
    seed = find_seed()
    print(f"Semilla {seed}. Pruébala con:")
    print(f"python restaurant/run_restaurant.py --prob-quemar {RATE} --semilla {seed}")
