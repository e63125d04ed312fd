"""La cocina del restaurante: cuánto tarda cada cosa y si un plato se quema.

`Cocina` es el segundo parámetro de `atender-persona`: la probabilidad de quemar
un plato y la semilla del azar, para que una misma semilla queme siempre los
mismos platos (las pruebas fuerzan así los reintentos). `simulate` (y `wait`,
su versión sin async) es la única espera del restaurante: la variable
RESTAURANTE_ESCALA_TIEMPO la acelera.
"""

import asyncio
import math
import os
import random
import time

from pydantic import BaseModel, field_validator

from grupo import invalid

TIME_SCALE_VARIABLE = "RESTAURANTE_ESCALA_TIEMPO"
# Reintentos de la task Cocinar en cada preparación del plato
COOK_RETRIES = 2


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


def wait(seconds: float) -> None:
    """Lo mismo que `simulate`, para tasks que no son async (el paso 1)."""
    time.sleep(seconds * time_scale())


def burns(cocina: Cocina, etiqueta: str, intento: int) -> bool:
    """Decidir, siempre igual para los mismos datos, si este intento se quema."""
    # Una semilla por plato e intento: el resultado no depende del orden en que
    # la cocina atiende los platos de varios grupos a la vez
    rng = random.Random(f"{cocina.semilla}|{etiqueta}|{intento}")
    return rng.random() < cocina.prob_quemar


def attempt_number(preparation: int, try_in_preparation: int) -> int:
    """Numerar un intento de cocinar a lo largo de todas las preparaciones.

    La primera preparación tiene los intentos 1 a COOK_RETRIES + 1; si el
    subflow se reintenta, la segunda sigue desde ahí (y no repite la suerte).
    """
    return (max(preparation, 1) - 1) * (COOK_RETRIES + 1) + max(try_in_preparation, 1)


class DishBurned(Exception):
    """Un plato se quemó en la cocina."""
