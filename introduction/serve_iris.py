"""Programar el flow de Iris con cron: un deployment servido desde este proceso.

`serve` registra el deployment `iris-classification/iris-diario` en el servidor
y se queda esperando: cada vez que toca, ejecuta el flow. Necesita `prefect
server start` y PREFECT_API_URL (el servidor temporal no programa nada).
Ejecutar con ``python introduction/serve_iris.py``; detener con Ctrl+C.
"""

from prefect.schedules import Cron

from run_iris import iris_classification

# Minuto 0, hora 8, cualquier día del mes, cualquier mes, de lunes (1) a viernes (5)
SCHEDULE = Cron("0 8 * * 1-5", timezone="America/Argentina/Buenos_Aires")


if __name__ == "__main__":
    iris_classification.serve(name="iris-diario", schedules=[SCHEDULE])
