"""Medir cuánto tarda una llegada en convertirse en una corrida terminada.

Levanta su propio `prefect server start`, sirve `atender-persona/llegadas` y
anuncia varias llegadas de a una, cada una después de que terminó la anterior.
Para cada una mide, desde que ocurrió el evento, cuándo empezó la corrida y
cuándo terminó. Uso: ``python mediciones/llegadas.py [--llegadas 5]
[--sondeo 1]`` (``--sondeo``: PREFECT_RUNNER_POLL_FREQUENCY, 10 por defecto en
Prefect).
"""

import argparse
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from herramientas import servidor  # noqa: E402


def seconds_between(start: str, end: str) -> float:
    """Segundos entre dos instantes ISO 8601 de la API."""
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()


def main() -> None:
    """Anunciar llegadas, medir y mostrar las medianas."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--llegadas", type=int, default=5)
    parser.add_argument("--sondeo", type=float, default=1.0)
    args = parser.parse_args()
    if args.llegadas < 1 or args.sondeo <= 0:
        sys.exit("--llegadas debe ser >= 1 y --sondeo un número de segundos > 0")

    with tempfile.TemporaryDirectory(prefix="prefect-llegadas-") as home:
        server = servidor.PrefectServer(Path(home), servidor.free_port())
        with (
            server,
            server.serving(
                "restaurant/serve_restaurant.py",
                PREFECT_RUNNER_POLL_FREQUENCY=str(args.sondeo),
                RESTAURANTE_ESCALA_TIEMPO="0",
            ),
        ):
            found = server.deployment("atender-persona/llegadas")
            to_start, to_end = [], []
            for i in range(1, args.llegadas + 1):
                name = f"Medida {i}"
                servidor.run_lesson(
                    server,
                    "restaurant/anunciar_llegada.py",
                    *("--nombre", name, "--postre", "ninguno"),  # sin esperar
                )
                deadline = time.monotonic() + 180
                while True:
                    runs = server.deployment_runs(found["id"], f"atender-{name}")
                    if runs and runs[0]["state_type"] == "COMPLETED":
                        break
                    if time.monotonic() > deadline:
                        sys.exit(f"La llegada de {name} no terminó en 180 s")
                    time.sleep(0.2)
                (event,) = server.post(
                    "/events/filter",
                    {
                        "filter": {
                            "event": {"name": ["restaurante.persona.llegada"]},
                            "resource": {"id": [f"restaurante.persona.medida-{i}"]},
                        }
                    },
                )["events"]
                to_start.append(
                    seconds_between(event["occurred"], runs[0]["start_time"])
                )
                to_end.append(seconds_between(event["occurred"], runs[0]["end_time"]))

    print(f"{args.llegadas} llegadas, sondeo del proceso serve cada {args.sondeo:g} s")
    print(f"evento -> empieza la corrida: mediana {statistics.median(to_start):.2f} s")
    print(f"evento -> termina la corrida: mediana {statistics.median(to_end):.2f} s")
    print("cada una (empieza / termina):")
    for start, end in zip(to_start, to_end, strict=True):
        print(f"  {start:6.2f} s / {end:6.2f} s")


if __name__ == "__main__":
    main()
