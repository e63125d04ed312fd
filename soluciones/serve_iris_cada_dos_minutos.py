"""Solución del ejercicio 1: Iris cada dos minutos, en vez de a las 8 de la mañana.

Es `introduction/serve_iris.py` con otra expresión cron (`*/2` en el campo de
los minutos: cada minuto divisible por 2) y otro nombre de deployment. Necesita
`prefect server start` y PREFECT_API_URL. Ejecutar con
``python soluciones/serve_iris_cada_dos_minutos.py``; detener con Ctrl+C.
"""

import sys
from pathlib import Path

from prefect.schedules import Cron
from prefect.settings import get_current_settings

# La lección vive en introduction/: se importa desde ahí, como hace serve_iris.py
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "introduction"))

from run_iris import iris_classification  # noqa: E402
from serve_iris import NO_SERVER  # noqa: E402

# Cada 2 minutos, cualquier hora, cualquier día
SCHEDULE = Cron("*/2 * * * *", timezone="America/Argentina/Buenos_Aires")


if __name__ == "__main__":
    if not get_current_settings().api.url:
        sys.exit(NO_SERVER)
    iris_classification.serve(name="iris-cada-dos-minutos", schedules=[SCHEDULE])
