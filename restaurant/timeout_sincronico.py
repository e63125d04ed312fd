"""Un timeout en una task que no es async (capítulo 11): cuándo la corta Prefect.

Muestra `timeout_seconds=1` en dos tasks síncronas que corren en hilos (con
`.submit()`): una que espera en `time.sleep(3)` y otra que trabaja en Python
durante 3 s. Las dos fallan por timeout, pero no al mismo tiempo: Prefect corta
un hilo entre dos instrucciones de Python, y `time.sleep` es una sola.
Funciona sin servidor y con `prefect server start`. Ejecutar con
``python restaurant/timeout_sincronico.py``.
"""

import time

from prefect import flow, task


@task(timeout_seconds=1)
def wait_in_sleep() -> None:
    """Esperar 3 s dentro de time.sleep, una sola llamada."""
    time.sleep(3)


@task(timeout_seconds=1)
def work_in_python() -> None:
    """Trabajar 3 s en Python: muchas instrucciones, una tras otra."""
    end = time.monotonic() + 3
    while time.monotonic() < end:
        pass


@flow
def sync_timeouts() -> dict[str, tuple[str, float]]:
    """Lanzar cada task en un hilo y anotar cómo y cuándo terminó."""
    ended = {}
    for name, slow in [
        ("time.sleep(3)", wait_in_sleep),
        ("Python, 3 s", work_in_python),
    ]:
        start = time.monotonic()
        future = slow.submit()  # en un hilo, como toda task con .submit()
        future.wait()
        ended[name] = (future.state.name, time.monotonic() - start)
    return ended


if __name__ == "__main__":
    for name, (state, seconds) in sync_timeouts().items():
        print(f"{name}: {state} a los {seconds:.1f} s")
