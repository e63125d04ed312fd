"""Piezas comunes de las pruebas: un Prefect aislado y un servidor por sesión.

Antes de importar prefect, cada corrida de pytest recibe su propio PREFECT_HOME
temporal y olvida cualquier PREFECT_API_URL del entorno: las pruebas nunca
hablan con un servidor que no hayan iniciado ellas mismas.
"""

import os
import shutil
import tempfile

import pytest

PREFECT_HOME = tempfile.mkdtemp(prefix="prefect-pruebas-")
os.environ["PREFECT_HOME"] = PREFECT_HOME
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
for _name in ("PREFECT_API_URL", "PREFECT_PROFILE", "PREFECT_API_KEY"):
    os.environ.pop(_name, None)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Borrar el PREFECT_HOME temporal al terminar."""
    shutil.rmtree(PREFECT_HOME, ignore_errors=True)


@pytest.fixture(scope="session")
def prefect_server() -> str:
    """Levantar un único servidor de pruebas de Prefect para toda la sesión."""
    from prefect.settings import (
        PREFECT_FLOWS_HEARTBEAT_FREQUENCY,
        get_current_settings,
        temporary_settings,
    )
    from prefect.testing.utilities import prefect_test_harness

    # Sin heartbeat, un flow síncrono no espera ~1 s al terminar (ver CONTRIBUTING.md)
    # 30 s por defecto para arrancar; con la máquina ocupada no alcanzaron
    with (
        prefect_test_harness(server_startup_timeout=120),
        temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}),
    ):
        yield get_current_settings().api.url


@pytest.fixture
def prefect_client(prefect_server: str):
    """Dar un cliente síncrono de la API del servidor de pruebas."""
    from prefect import get_client

    with get_client(sync_client=True) as client:
        yield client


@pytest.fixture(scope="session")
def quick_start(tmp_path_factory) -> dict:
    """El inicio rápido del README: run_iris.py sin servidor, en un Prefect nuevo."""
    from herramientas.servidor import quick_start

    home = tmp_path_factory.mktemp("prefect-home")
    return {"home": home, "salida": quick_start(home)}


@pytest.fixture(scope="session")
def real_server(quick_start):
    """Levantar un `prefect server start` real después del inicio rápido, en el
    mismo PREFECT_HOME, como quien aprende sigue el README."""
    from herramientas.servidor import PrefectServer, free_port

    server = PrefectServer(quick_start["home"], free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()  # por su PID, también si una prueba falló


@pytest.fixture(scope="session")
def lesson_runs(real_server) -> dict:
    """Ejecutar las dos lecciones contra el servidor real, como quien aprende."""
    from tests.helpers import eventually, run_script

    outputs = {}
    for script in ("introduction/run_iris.py", "restaurant/run_restaurant.py"):
        result = run_script(
            script,
            home=real_server.home,
            api_url=real_server.api_url,
            PREFECT_UI_URL=f"{real_server.url}/v2",  # como indica el README
        )
        outputs[script] = result.stdout + result.stderr
        assert result.returncode == 0, outputs[script]
    # Las task runs llegan por eventos: esperar a que estén todas registradas
    iris = real_server.flow_runs("iris-classification")[0]
    party = real_server.flow_runs("atender-persona")[0]
    for run, count in ((iris, 3), (party, 9)):
        eventually(
            lambda run=run: real_server.task_runs(run["id"]),
            lambda runs, count=count: (
                len(runs) == count and all(t["state_type"] == "COMPLETED" for t in runs)
            ),
        )
    return {"iris": iris, "restaurante": party, "salidas": outputs}


@pytest.fixture
def no_waits(monkeypatch):
    """Correr el restaurante sin esperas simuladas."""
    from cocina import TIME_SCALE_VARIABLE

    monkeypatch.setenv(TIME_SCALE_VARIABLE, "0")


@pytest.fixture(scope="module")
def restaurant(prefect_server):
    """Abrir el restaurante (crear las mesas) una vez en el servidor de pruebas."""
    import asyncio

    from mesas import open_restaurant

    asyncio.run(open_restaurant())
