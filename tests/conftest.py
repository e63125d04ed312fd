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

    # Sin latido, un flow síncrono no espera ~1 s al terminar (facts §1)
    with (
        prefect_test_harness(),
        temporary_settings({PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None}),
    ):
        yield get_current_settings().api.url


@pytest.fixture
def prefect_client(prefect_server: str):
    """Dar un cliente síncrono de la API del servidor de pruebas."""
    from prefect import get_client

    with get_client(sync_client=True) as client:
        yield client
