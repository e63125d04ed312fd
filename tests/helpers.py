"""Ayudas de las pruebas: ejecutar los scripts y leer lo que quedó en Prefect."""

import contextlib
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from herramientas.cluster_dask import DaskCluster
from herramientas.postgres import PostgresCluster
from herramientas.procesos import run_python
from herramientas.s3_local import LocalS3
from herramientas.servidor import PrefectServer

ROOT = Path(__file__).resolve().parent.parent
# Las seis tasks del ejemplo, en su orden, con los nombres que muestra la UI
RESTAURANT_STEPS = [
    "Recibir a la persona",
    "Asignar mesa",
    "Tomar pedido",
    "Llevar la comida",
    "Cobrar el servicio",
    "Despedir a la persona",
]


# La prueba que corre ahora (la pone conftest.py::pytest_runtest_setup)
CURRENT_TEST: pytest.Item | None = None
# Lo que una prueba puede levantar, y la marca que lo dice (ver pyproject.toml)
MARKS = {
    "harness": "usa el servidor de pruebas (prefect_test_harness)",
    "server": "levanta un servidor de Prefect propio",
    "browser": "abre Chromium",
    "postgres": "levanta PostgreSQL",
    "dask": "levanta un clúster de Dask",
    "s3": "levanta un servicio S3 local (moto_server)",
}

# Qué levanta cada fixture, y la marca que debe llevar la prueba que la usa
# (tests/test_marks.py lo comprueba; las pruebas que levantan algo por su cuenta
# se comprueban al levantarlo, ver require_mark)
FIXTURE_MARKS = {
    "prefect_server": "harness",
    "prefect_client": "harness",
    "harness_api": "harness",
    "restaurant": "harness",
    "quick_start": "server",
    "real_server": "server",
    "module_server": "server",
    "lesson_runs": "server",
    "served": "server",
    "pg_server": "server",
    "pool_server": "server",
    "protected_server": "server",
    "postgres": "postgres",
    "browser": "browser",
    "page": "browser",
    "local_s3": "s3",
}
# Todas las pruebas recogidas, también las que `-m` deja fuera (conftest.py)
COLLECTED: list[pytest.Item] = []


def require_mark(mark: str, what: str | None = None) -> None:
    """Fallar si la prueba que corre levanta algo sin llevar su marca.

    Así `-m "not server"` no levanta servidores: la marca no es una promesa, se
    comprueba cada vez que una prueba levanta algo.
    """
    test = CURRENT_TEST
    if test is not None and test.get_closest_marker(mark) is None:
        pytest.fail(
            f"{test.nodeid} {what or MARKS[mark]}: le falta @pytest.mark.{mark}",
            pytrace=False,
        )


def _guarded(method, mark: str):
    def start(self, *args, **kwargs):
        require_mark(mark)
        return method(self, *args, **kwargs)

    return start


# Dónde queda la base de datos ya migrada que comparten los workers de una corrida
# (la pone conftest.py)
MIGRATED_DIR: Path | None = None


def migrated_database() -> Path:
    """Una base de datos de Prefect vacía con todas sus migraciones, una por corrida.

    Un `prefect server start` en un PREFECT_HOME nuevo primero crea su base y
    aplica las migraciones: en 2 núcleos, unos 7 s de CPU de sus 11. El primer
    worker que la necesita la crea con `prefect server database upgrade`; los
    demás esperan a que esté.
    """
    assert MIGRATED_DIR is not None, "conftest.py no dijo dónde va la base migrada"
    database = MIGRATED_DIR / "prefect.db"
    try:
        (MIGRATED_DIR / "creando").mkdir(parents=True)  # solo uno llega a crearla
    except FileExistsError:
        return eventually(
            lambda: database if database.exists() else None,
            bool,
            what=f"la base de datos migrada en {database} (la crea otro worker)",
            timeout=180,
            every=0.5,
        )
    home = MIGRATED_DIR / "creando"
    env = {**os.environ, "PREFECT_HOME": str(home), "PYTHONUTF8": "1"}
    for name in ("PREFECT_API_URL", "PREFECT_SERVER_DATABASE_CONNECTION_URL"):
        env.pop(name, None)
    result = run_python(
        ["-m", "prefect", "server", "database", "upgrade", "-y"], env, 180
    )
    assert result.returncode == 0, result.stdout + result.stderr
    os.replace(home / "prefect.db", database)  # aparece entera, de una vez
    return database


def migrated_home(home: Path) -> Path:
    """Un PREFECT_HOME nuevo con la base de datos ya migrada, para un script que
    levanta un servidor temporal en una prueba que no trata del primer arranque."""
    home.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(migrated_database(), home / "prefect.db")
    return home


def _start_migrated(start):
    def with_migrated_database(self, *args, **kwargs):
        # Un servidor en un PREFECT_HOME nuevo con SQLite arranca de una base ya
        # migrada: lo que prueban las pruebas no cambia (el primer arranque de
        # quien aprende lo prueba el inicio rápido, que no pasa por aquí)
        profiles = self.home / "profiles.toml"
        uses_sqlite = "DATABASE_CONNECTION_URL" not in str(self.server_env) and (
            not profiles.exists()
            or "DATABASE_CONNECTION_URL" not in profiles.read_text(encoding="utf-8")
        )
        if uses_sqlite and not (self.home / "prefect.db").exists():
            migrated_home(self.home)
        return start(self, *args, **kwargs)

    return with_migrated_database


PrefectServer.start = _guarded(_start_migrated(PrefectServer.start), "server")
PostgresCluster.start = _guarded(PostgresCluster.start, "postgres")
DaskCluster.__enter__ = _guarded(DaskCluster.__enter__, "dask")
LocalS3.__enter__ = _guarded(LocalS3.__enter__, "s3")


def quick_start_link(output: str) -> re.Match:
    """El enlace View at que imprimió el inicio rápido (lo pone prefect.toml)."""
    link = re.search(
        r"View at (http://127\.0\.0\.1:4200/v2)/runs/flow-run/([0-9a-f-]{36})", output
    )
    assert link, output
    return link


def flush_logs() -> None:
    """Esperar a que los logs en cola lleguen al servidor antes de leerlos."""
    from prefect.logging.handlers import APILogHandler

    APILogHandler().flush()


def run_script(
    *args: str,
    home: Path,
    api_url: str | None = None,
    timeout: float = 180,
    unset: list[str] | tuple[str, ...] = (),
    **extra_env: str,
) -> subprocess.CompletedProcess:
    """Ejecutar un script como lo haría quien aprende, con su propio PREFECT_HOME.

    `unset` quita variables del entorno de las pruebas (por ejemplo, para que
    valga lo que dice el prefect.toml del repositorio).
    """
    env = {**os.environ, "PREFECT_HOME": str(home), "PYTHONUTF8": "1", **extra_env}
    for name in ("PREFECT_API_URL", *unset):
        env.pop(name, None)
    if api_url:
        env["PREFECT_API_URL"] = api_url
    result = run_python(list(args), env, timeout)
    # Un script sin PREFECT_API_URL levanta su propio servidor temporal
    output = result.stdout + result.stderr
    if "Starting temporary server on" in output:
        require_mark("server", "ejecutó un script que levantó un servidor temporal")
    if "Creating a new Dask cluster" in output:
        require_mark("dask", "ejecutó un script que levantó un clúster de Dask")
    return result


def in_a_terminal(
    args: list[str],
    env: dict[str, str],
    *,
    reply: tuple[str, str] | None = None,
    until: str | None = None,
    timeout: float = 90,
) -> tuple[int | None, str]:
    """Ejecutar Python en una terminal (un pty, que es la /dev/tty del proceso,
    como en una consola); `reply` es una pregunta y lo que se le escribe cuando
    aparece.

    Devuelve el código de salida y lo que se vio (lo escrito también, si la
    terminal lo mostró); si muestra `until` (una pregunta) o a los `timeout`
    segundos sigue corriendo, se lo detiene y el código es None.
    """
    import fcntl
    import select
    import sys
    import termios
    import time

    controller, terminal = os.openpty()
    process = subprocess.Popen(
        [sys.executable, *args],
        cwd=ROOT,
        env=env,
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        start_new_session=True,
        preexec_fn=lambda: fcntl.ioctl(0, termios.TIOCSCTTY, 0),
    )
    os.close(terminal)
    shown = b""
    question, answer = reply or ("", "")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([controller], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(controller, 4096)
            except OSError:  # la terminal se cerró: el proceso terminó
                chunk = b""
            shown += chunk
            if not chunk and process.poll() is not None:
                break
            if until and until.encode() in shown and process.poll() is None:
                break  # está preguntando: ya se vio lo que había que ver
            if answer and question.encode() in shown:
                os.write(controller, answer.encode())
                answer = ""
        elif process.poll() is not None:
            break
    code = process.poll()
    if code is None:
        process.kill()
    process.wait()
    os.close(controller)
    return code, shown.decode("utf-8", "replace")


def finished_evaluations(output: str, state: str = "Completed") -> int:
    """Cuántos candidatos de la búsqueda terminaron en ese estado, según la salida
    de un proceso (el script o un proceso de Dask)."""
    return sum(
        "Evaluar" in line and f"Finished in state {state}(" in line
        for line in output.splitlines()
    )


def prefect_cli(server, *args: str) -> subprocess.CompletedProcess:
    """La CLI de Prefect (`prefect ...`) contra un servidor de las pruebas."""
    return run_script(
        "-m", "prefect", *args, home=server.home, api_url=server.api_url, timeout=120
    )


def eventually(read, done, *, what: str, timeout: float = 20, every: float = 0.2):
    """Leer hasta que `done(valor)` se cumpla y devolver ese valor.

    Prefect registra muchas cosas por eventos (task runs, estados, logs), así que
    llegan al servidor un instante después. Si el plazo vence, la prueba falla
    diciendo qué esperaba (`what`) y lo último que leyó: una espera es una
    afirmación, nunca pasa en silencio. Lee cada `every` segundos al principio y
    cada vez menos seguido (hasta cada 2 s): una espera larga no ocupa al servidor.
    """
    import time

    deadline = time.monotonic() + timeout
    while True:
        value = read()
        if done(value):
            return value
        if time.monotonic() > deadline:
            seen = repr(value)
            if len(seen) > 1500:
                seen = seen[:1500] + " …"
            raise AssertionError(
                f"Esperé {timeout:g} s a que {what}, y no pasó. Lo último: {seen}"
            )
        time.sleep(every)
        every = min(every * 1.5, max(every, 2.0))


def task_runs(client, flow_run_id, expected: int = 0):
    """Leer las task runs de un flow run en el orden en que empezaron, esperando
    a que lleguen al menos `expected` y todas en un estado final."""
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId
    from prefect.client.schemas.sorting import TaskRunSort

    run_filter = FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id]))
    return eventually(
        lambda: client.read_task_runs(
            flow_run_filter=run_filter, sort=TaskRunSort.EXPECTED_START_TIME_ASC
        ),
        lambda runs: (
            len(runs) >= expected and all(t.state and t.state.is_final() for t in runs)
        ),
        what=f"al menos {expected} task runs de {flow_run_id}, todas terminadas",
    )


def announce(server, *args: str, home: Path | None = None, **extra_env: str):
    """Anunciar una llegada con el script de la lección, contra un servidor real.

    Sin `--postre`, el grupo lo elige en la puerta ("ninguno"): así la corrida no
    queda en pausa esperando a alguien en la UI. Las pruebas del postre lo dicen.
    """
    if "--postre" not in args:
        args = (*args, "--postre", "ninguno")
    result = run_script(
        "restaurant/anunciar_llegada.py",
        *args,
        home=home or server.home,
        api_url=server.api_url,
        **extra_env,
    )
    assert result.returncode == 0, result.stderr
    return result


def normalized_tables(text: str) -> str:
    """Quitar el número de mesa, que depende de quién llegó antes a cada una."""
    return re.sub(r"mesa \d+", "mesa N", text)


def occupied_tables(server) -> dict[str, int]:
    """Las mesas ocupadas ahora en `server`: {"mesa-N": lugares ocupados}."""
    limits = server.post("/v2/concurrency_limits/filter", {})
    return {
        limit["name"]: limit["active_slots"]
        for limit in limits
        if limit["name"].startswith("mesa-") and limit["active_slots"]
    }


def most_at_once(spans) -> int:
    """Cuántos de los intervalos (desde, hasta) se superponen, como máximo.

    Uno que termina en el mismo instante en que empieza otro no se superpone:
    un grupo se sienta cuando el anterior ya liberó la mesa.
    """
    changes = sorted(
        [(start, 1) for start, _ in spans] + [(end, -1) for _, end in spans]
    )
    now = most = 0
    for _, change in changes:
        now += change
        most = max(most, now)
    return most


def stays_at_table_five(server, run_ids: list[str]) -> list[tuple[str, str]]:
    """Cuándo se sentó y cuándo se despidió cada grupo en la mesa de 6 (la 5),
    según los logs de sus corridas: el de despedida se escribe antes de liberarla."""
    logs = server.post("/logs/filter", {"logs": {"flow_run_id": {"any_": run_ids}}})
    stays = []
    for run_id in run_ids:
        mine = [log for log in logs if log["flow_run_id"] == run_id]
        (seated,) = [log for log in mine if "la más chica es la 5" in log["message"]]
        (left,) = [log for log in mine if "gracias por venir" in log["message"]]
        stays.append((seated["timestamp"], left["timestamp"]))
    return stays


@contextlib.contextmanager
def with_password(server, auth: str):
    """Consultar un servidor con contraseña, y olvidarla al salir."""
    server.auth = auth
    try:
        yield server
    finally:
        server.auth = None


@contextlib.contextmanager
def chromium_browser():
    """Abrir el Chromium del sistema. Sin Chromium o sin playwright, la prueba se
    salta con el motivo; con CI=true falla, para que CI nunca pase saltándola."""
    from herramientas import navegador

    require_mark("browser")
    reason = None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        reason = "falta playwright: pip install -r requirements-dev.txt"
    if reason is None and not Path(navegador.CHROMIUM).exists():
        reason = f"falta Chromium en {navegador.CHROMIUM}: apt-get install chromium"
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{reason} (en CI las pruebas del navegador no se saltan)")
        pytest.skip(reason)
    with sync_playwright() as playwright:
        browser = navegador.launch_browser(playwright)
        try:
            yield browser
        finally:
            browser.close()


def open_the_kitchen(server) -> None:
    """Lo que el capítulo 11 crea antes de cocinar (los límites del proveedor y
    del horno, con sus comandos) y las mesas, antes de que lleguen dos grupos a
    la vez a crearlas."""
    import asyncio

    from prefect.settings import PREFECT_API_URL, temporary_settings

    from herramientas.documentos import readme_lines
    from mesas import open_restaurant

    limits = readme_lines("prefect gcl create proveedor ") + readme_lines(
        "prefect concurrency-limit create horno "
    )
    assert len(limits) == 2
    for command in limits:
        result = prefect_cli(server, *command[1:])
        assert result.returncode == 0, result.stdout + result.stderr
    with temporary_settings({PREFECT_API_URL: server.api_url}):
        asyncio.run(open_restaurant())
