"""Piezas comunes de las pruebas: un Prefect aislado, servidores y marcas.

Antes de importar prefect, cada proceso de pytest (cada worker de pytest-xdist)
recibe su propio PREFECT_HOME temporal y olvida cualquier PREFECT_API_URL del
entorno: las pruebas nunca hablan con un servidor que no hayan iniciado ellas
mismas. Las pruebas corren en paralelo (`-n` en pyproject.toml); cada worker
tiene sus propios servidores, y las que comparten un servidor caro van juntas al
mismo worker (ver `pytest_collection_modifyitems`).
"""

import concurrent.futures
import os
import shutil
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlparse

import pytest

PREFECT_HOME = tempfile.mkdtemp(prefix="prefect-pruebas-")
os.environ["PREFECT_HOME"] = PREFECT_HOME
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
for _name in ("PREFECT_API_URL", "PREFECT_PROFILE", "PREFECT_API_KEY"):
    os.environ.pop(_name, None)
# Los servidores que levantan las pruebas revisan los leases vencidos cada 1 s
# (15 s por defecto) y marcan Late una corrida a los 5 s de su hora (15 s): lo que
# se prueba no cambia, se espera menos. Los valores por defecto que cita el README
# se prueban aparte (test_a_table_lease_is_as_short_as_the_server_allows).
os.environ["PREFECT_SERVER_SERVICES_REPOSSESSOR_LOOP_SECONDS"] = "1"
os.environ["PREFECT_SERVER_SERVICES_LATE_RUNS_AFTER_SECONDS"] = "5"
# La base de datos ya migrada que copian los servidores nuevos (helpers.py): una
# carpeta por corrida, creada por el proceso principal antes que los workers
if "PYTEST_XDIST_WORKER" not in os.environ:
    os.environ["PRUEBAS_BASE_MIGRADA"] = tempfile.mkdtemp(prefix="prefect-migrada-")

# Las fixtures caras que comparten varias pruebas, y su grupo: cada grupo va
# entero a un solo worker, para no levantar lo mismo en cada uno
SHARED_SERVERS = {
    "real_server": "real_server",
    "quick_start": "real_server",  # real_server empieza por el inicio rápido
    "served": "served",
    "pg_server": "postgres",
    "postgres": "postgres",
    "pool_server": "pool_server",
    "protected_server": "protected_server",
    "module_server": "{module}",  # uno por módulo: el grupo es el módulo
    "local_s3": "{module}",
    # El servidor de pruebas: uno para las pruebas lentas de test_restaurant.py y
    # de los pasos (test_paso*.py) y otro para lo demás, así esas dos tandas
    # largas corren a la vez; la comprobación rápida usa solo el segundo
    "prefect_server": "harness-{lesson}",
}
# Las pruebas lentas de estos módulos van al servidor de pruebas "harness-restaurant"
RESTAURANT_MODULES = (
    "test_restaurant",
    *(f"test_paso{n}" for n in ("1_historia", "2_cocina", "3_cuenta", "4_mesas")),
    *(f"test_paso{n}" for n in ("5_grupo", "6_postre")),
)
# Las marcas que dejan a una prueba fuera de la comprobación rápida
SLOW_MARKS = ("server", "browser", "postgres", "dask", "s3", "slow")
# Qué se reparte primero (medido con --durations): las pruebas que esperan un
# lease, que casi no usan CPU, y después los grupos y las pruebas más largas
LONGEST_FIRST = [
    "tests/test_postre.py::test_dead_serve_leaves_the_table_until_its_renewed_lease_expires",
    "real_server",
    "harness-restaurant",
    "harness-others",
    "test_busqueda",  # ~200 s seguidos: al final, alarga la cola
    "test_almacen",
    "test_paso9_cocina_cola",  # ~6 min seguidos, con cocineros en otros procesos
    "test_paso10_gerente",  # ~4 min seguidos: la corrida sin latidos espera 90 s
    "served",
    "postgres",
    "tests/test_produccion.py::test_postgres_stopped_mid_shift_leaves_runs_running_until_the_leases_expire",
    "tests/test_produccion.py::test_runs_left_running_by_a_postgres_stop_are_marked_crashed_by_the_heartbeats",
    "tests/test_produccion.py::test_postgres_stopped_mid_shift_with_retries_on_500_loses_and_repeats_nobody",
    "tests/test_end_to_end.py::test_expired_table_lease_is_freed_by_prefect_server_start",
    "tests/test_limpiar.py::test_cleanup_commands_delete_what_the_lessons_left",
    "tests/test_limpiar.py::test_starting_over_empties_the_database_and_the_profile",
    "tests/test_busqueda.py::test_dask_without_a_server_starts_one_temporary_server_per_process",
    "test_schedules_and_triggers",
    "protected_server",
    "pool_server",
]


def pytest_itemcollected(item: pytest.Item) -> None:
    """Anotar cada prueba recogida, antes de que `-m` elija cuáles corren."""
    from tests import helpers

    helpers.COLLECTED.append(item)


def pytest_configure(config: pytest.Config) -> None:
    """Decirle a helpers.py dónde va la base de datos migrada de esta corrida."""
    from tests import helpers

    helpers.MIGRATED_DIR = Path(os.environ["PRUEBAS_BASE_MIGRADA"]) / "base"


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Borrar el PREFECT_HOME temporal (y, el proceso principal, la base migrada)."""
    shutil.rmtree(PREFECT_HOME, ignore_errors=True)
    if "PYTEST_XDIST_WORKER" not in os.environ:
        shutil.rmtree(os.environ["PRUEBAS_BASE_MIGRADA"], ignore_errors=True)


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """Cuántos procesos abre `-n auto`: cuatro para todo (casi todo es esperar:
    un lease, un evento, un servidor que arranca; con cinco, en 2 núcleos, tardó
    más: 652 s contra 583 s el 3 de diciembre); tres para `-m quick`, que trabaja
    más de lo que espera (en 2 núcleos, 48 s con tres y 54 s con dos)."""
    return 3 if config.option.markexpr == "quick" else 4


@pytest.hookimpl(tryfirst=True)  # antes de que pytest-xdist lea los grupos
def pytest_collection_modifyitems(config: pytest.Config, items: list) -> None:
    """Agrupar las pruebas de cada servidor compartido y ordenar: lo largo primero.

    pytest-xdist (`--dist loadgroup`) manda cada grupo entero a un worker y reparte
    los grupos en el orden de la colección; empezar por lo que más tarda deja
    para el final lo corto, que llena los huecos.
    """
    for item in items:
        module = item.module.__name__
        slow_restaurant = module in RESTAURANT_MODULES and item.get_closest_marker(
            "slow"
        )
        lesson = "restaurant" if slow_restaurant else "others"
        shared = [
            group.format(module=module, lesson=lesson)
            for name, group in SHARED_SERVERS.items()
            if name in item.fixturenames
        ]
        if shared:
            item.add_marker(pytest.mark.xdist_group(shared[0]))
        # La comprobación rápida (`-m quick`): lo que no levanta nada más que el
        # servidor de pruebas y no tarda
        if not any(item.get_closest_marker(mark) for mark in SLOW_MARKS):
            item.add_marker(pytest.mark.quick)
    weight = {name: i for i, name in enumerate(LONGEST_FIRST)}

    def order(item) -> int:
        groups = [m.args[0] for m in item.iter_markers("xdist_group")]
        key = groups[0] if groups else item.nodeid.split("[")[0]
        return weight.get(key, len(weight))

    items.sort(key=order)  # sort es estable: el resto queda en su orden


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Recordar qué prueba corre, para comprobar sus marcas al levantar algo."""
    from tests import helpers

    helpers.CURRENT_TEST = item


# Los servidores de toda la sesión que se pueden detener en cuanto termina su
# grupo (los de alcance "module" ya se detienen al cambiar de módulo)
STOP_AFTER_GROUP = ("real_server", "prefect_server")


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> None:
    """Detener el servidor de un grupo cuando la prueba siguiente ya no lo usa.

    Las pruebas de un grupo corren seguidas en el mismo worker; un servidor
    quieto sigue gastando CPU en sus bucles (unos 2 s por minuto), y el worker
    sigue con otros grupos varios minutos.
    """
    if nextitem is None:  # la última: pytest detiene todo igual
        return
    for name in STOP_AFTER_GROUP:
        if name in item.fixturenames and name not in nextitem.fixturenames:
            for fixturedef in item._fixtureinfo.name2fixturedefs.get(name, ()):
                fixturedef.finish(item._request)


@pytest.fixture(autouse=True)
def prefect_services_forget_their_server():
    """Detener, al terminar cada prueba, los servicios de fondo del cliente de Prefect.

    Un flow que corre en el proceso de pytest manda sus eventos, sus logs y sus
    pedidos de slots de concurrencia (tasks con tags) por servicios que viven en
    un hilo, uno por proceso (EventsWorker, APILogWorker,
    ConcurrencySlotAcquisitionWithLeaseService: prefect/_internal/concurrency/
    services.py). Cada uno abre su cliente de la API una vez, al empezar, y queda
    atado a ese servidor. Una prueba posterior del mismo worker con otro servidor
    mandaba sus eventos y sus pedidos de slots al anterior, ya detenido: la task
    con tags no conseguía su slot (lo vimos: 300 s y timeout, o
    ConcurrencySlotAcquisitionError) y sus eventos se perdían. Detenidos, la
    próxima corrida crea servicios nuevos con el servidor de ese momento.
    prefect_test_harness hace lo mismo al cerrar; aquí, después de cada prueba,
    antes de que se detenga su servidor (las fixtures de la prueba se cierran
    antes que las del módulo y la sesión), así lo pendiente llega a destino.
    """
    yield
    if "prefect._internal.concurrency.services" not in sys.modules:
        return  # la prueba no importó Prefect: no hay servicios
    from prefect._internal.concurrency.services import _QueueServiceBase

    with _QueueServiceBase._instance_cache_lock:
        running = list(_QueueServiceBase._instances.values())
    # Cada uno termina lo que tiene en curso; si su servidor ya no está, no
    # esperamos más de 10 s. No `drain_all()`: con un bucle de eventos en el hilo
    # (el de Playwright en las pruebas del navegador) devuelve una corrutina sin
    # esperar nada
    concurrent.futures.wait([s._drain() for s in running], timeout=10)


@pytest.fixture(scope="session")
def prefect_server() -> str:
    """Levantar un único servidor de pruebas de Prefect por worker."""
    from prefect.settings import (
        PREFECT_CLIENT_MAX_RETRIES,
        PREFECT_FLOWS_HEARTBEAT_FREQUENCY,
        get_current_settings,
        temporary_settings,
    )
    from prefect.testing.utilities import prefect_test_harness

    from tests.helpers import require_mark

    require_mark("harness", "usa el servidor de pruebas (prefect_test_harness)")
    # Sin heartbeat, un flow síncrono no espera ~1 s al terminar (ver CONTRIBUTING.md)
    # 30 s por defecto para arrancar; con la máquina ocupada no alcanzaron.
    # Un reintento más ante un 503 de SQLite (2+4+…+64 s, no 62): en CI, con los
    # cuatro workers arrancando servidores, abrir una corrida falló seis veces
    with (
        prefect_test_harness(server_startup_timeout=120),
        temporary_settings(
            {PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None, PREFECT_CLIENT_MAX_RETRIES: 6}
        ),
    ):
        yield get_current_settings().api.url


@pytest.fixture
def prefect_client(prefect_server: str):
    """Dar un cliente síncrono de la API del servidor de pruebas."""
    from prefect import get_client

    with get_client(sync_client=True) as client:
        yield client


@pytest.fixture
def harness_api(prefect_server: str):
    """El servidor de pruebas, para leerlo por la API REST como los demás."""
    from herramientas.servidor import PrefectServer

    return PrefectServer(Path(PREFECT_HOME), urlparse(prefect_server).port)


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

    with PrefectServer(quick_start["home"], free_port()) as server:
        yield server  # se detiene por su PID, también si una prueba falló


@pytest.fixture(scope="module")
def module_server(tmp_path_factory):
    """Un `prefect server start` nuevo para las pruebas de un módulo, que no
    necesitan lo que dejó el inicio rápido."""
    from herramientas.servidor import PrefectServer, free_port

    home = tmp_path_factory.mktemp("prefect-modulo")
    with PrefectServer(home, free_port()) as server:
        yield server


@pytest.fixture(scope="module")
def local_s3(tmp_path_factory):
    """El S3 local del capítulo 10 (`moto_server`), que además comprueba las
    claves como AWS o MinIO: un usuario con su clave, la única que acepta."""
    from herramientas.s3_local import LocalS3

    with LocalS3(tmp_path_factory.mktemp("s3"), keys=True) as s3:
        yield s3


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
            what=f"las {count} task runs de {run['name']}, todas en Completed",
        )
    return {"iris": iris, "restaurante": party, "salidas": outputs}


@pytest.fixture
def browser():
    """Abrir Chromium para una prueba.

    Solo para una: mientras Playwright está abierto, su bucle de asyncio sigue
    corriendo en el hilo de las pruebas, y `asyncio.run()` (y las funciones de
    Prefect que lo usan) fallan en las pruebas siguientes. test_browser.py, donde
    todas usan Chromium, lo abre una vez para el módulo.
    """
    from tests.helpers import chromium_browser

    with chromium_browser() as chromium:
        yield chromium


@pytest.fixture
def page(browser):
    """Una pestaña nueva del tamaño de las capturas, cerrada al terminar."""
    from herramientas import navegador

    page = browser.new_page(viewport=navegador.VIEWPORT)
    page.set_default_timeout(30_000)
    yield page
    page.close()


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
