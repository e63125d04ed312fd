"""Programar el flow de Iris con cron: un deployment servido desde este proceso.

Muestra un deployment con horario: `serve` registra `iris-classification/
iris-diario` en el servidor y se queda esperando; cada vez que toca, ejecuta el
flow. Necesita `prefect server start` y PREFECT_API_URL (el servidor temporal no
ejecuta horarios). Ejecutar con ``python introduction/serve_iris.py``; detener
con Ctrl+C.
"""

import sys

from prefect.schedules import Cron
from prefect.settings import get_current_settings

from run_iris import iris_classification

# Minuto 0, hora 8, cualquier día del mes, cualquier mes, de lunes (1) a viernes (5)
SCHEDULE = Cron("0 8 * * 1-5", timezone="America/Argentina/Buenos_Aires")

NO_SERVER = """No se sirve el deployment: falta PREFECT_API_URL.
Sin ella, Prefect usaría un servidor temporal, que no ejecuta horarios y que otra
terminal no puede alcanzar: el cron nunca se dispararía. Abre `prefect server
start` en otra terminal y ejecuta
  prefect config set PREFECT_API_URL=http://127.0.0.1:4200/api
(capitulos/03-ver-el-workflow.md)."""


if __name__ == "__main__":
    if not get_current_settings().api.url:
        sys.exit(NO_SERVER)  # sale con código 1 y el mensaje en la terminal
    iris_classification.serve(name="iris-diario", schedules=[SCHEDULE])
