"""Hacia producción: PostgreSQL, workers y un servidor con contraseña, de punta a punta.

Cada prueba levanta lo suyo como lo haría quien aprende con los comandos del
README: un PostgreSQL de usar y tirar (en un puerto libre, detenido por su PID),
`prefect server start` sobre él, los workers del README, un servidor con
contraseña. Necesita PostgreSQL instalado (`.ci/run` lo instala): sin él, las
pruebas de PostgreSQL se saltan con el motivo, y con CI=true fallan.
"""

import contextlib
import os
import re
import signal
import socket
import time
import urllib.error
import urllib.request
from datetime import datetime

import psutil
import pytest

from herramientas.documentos import docs_text, readme_lines, readme_protected_settings
from herramientas.postgres import PostgresCluster, postgres_bin
from herramientas.servidor import PrefectServer, free_port
from mesas import RENEW_SECONDS, TABLE_LEASE_SECONDS
from tests.helpers import (
    RESTAURANT_STEPS,
    announce,
    eventually,
    most_at_once,
    normalized_tables,
    occupied_tables,
    run_script,
    stays_at_table_five,
    with_password,
)

pytestmark = pytest.mark.server
README = docs_text()
README_PORT = "5432"  # el puerto de PostgreSQL en los comandos del README


def readme_block_after(start: str) -> str:
    """El bloque de texto que el README muestra después de la línea que empieza
    con `start`."""
    (after,) = re.findall(
        rf"^{re.escape(start)}[^\n]*\n```\n(.*?)```text\n(.*?)```", README, re.M | re.S
    )
    return after[1]


def need_postgres() -> None:
    """Sin PostgreSQL instalado, la prueba se salta con el motivo; con CI=true
    falla, para que CI nunca pase saltándola."""
    try:
        postgres_bin()
    except FileNotFoundError as error:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{error} (en CI las pruebas de PostgreSQL no se saltan)")
        pytest.skip(str(error))


@pytest.fixture(scope="module")
def postgres():
    """Un PostgreSQL propio, con el usuario y la base del README."""
    need_postgres()
    with PostgresCluster() as cluster:
        cluster.create_prefect_database()
        yield cluster


@pytest.fixture(scope="module")
def pg_server(postgres, tmp_path_factory):
    """`prefect server start` sobre PostgreSQL, configurado con la línea del README."""
    home = tmp_path_factory.mktemp("prefect-postgres")
    (line,) = readme_lines("prefect config set PREFECT_SERVER_DATABASE_CONNECTION_URL=")
    setting = line[-1].replace(f":{README_PORT}/", f":{postgres.port}/")
    assert setting.startswith(
        "PREFECT_SERVER_DATABASE_CONNECTION_URL=postgresql+asyncpg"
    )
    result = run_script(
        "-m", "prefect", "config", "set", setting, home=home, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    server = PrefectServer(home, free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()


def psql_readme_query(postgres) -> str:
    """Ejecutar la consulta `psql ...` del README contra el PostgreSQL de la prueba."""
    (line,) = readme_lines("psql postgresql://")
    line = [arg.replace(f":{README_PORT}/", f":{postgres.port}/") for arg in line]
    return postgres.run(*line).stdout


def lines_without_spaces(text: str) -> list[str]:
    return [re.sub(r"\s+", " ", line).strip() for line in text.strip().splitlines()]


@pytest.mark.postgres
def test_readme_postgres_setup_keeps_the_party_in_postgres(postgres, pg_server):
    # La base de PREFECT_HOME sigue sin crearse: el servidor escribe en PostgreSQL
    assert not (pg_server.home / "prefect.db").exists()
    result = run_script(
        "restaurant/run_restaurant.py",
        home=pg_server.home,
        api_url=pg_server.api_url,
        RESTAURANTE_ESCALA_TIEMPO="0",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().endswith("Total: $25.15")
    (run,) = pg_server.flow_runs("atender-persona")
    assert run["name"] == "atender-Ana" and run["state_name"] == "Completed"
    tasks = eventually(
        lambda: pg_server.task_runs(run["id"]),
        lambda runs: (
            len(runs) == 9 and {t["state_name"] for t in runs} == {"Completed"}
        ),
        what="las 9 task runs de atender-Ana en PostgreSQL, todas en Completed",
    )
    steps = [t["name"].rsplit("-", 1)[0] for t in tasks]
    assert [s for s in steps if s != "preparar-plato"] == RESTAURANT_STEPS
    artifacts = pg_server.post(
        "/artifacts/filter", {"artifacts": {"flow_run_id": {"any_": [run["id"]]}}}
    )
    assert {a["key"] for a in artifacts} == {"cuenta", "ticket"}
    # La consulta del README, con su salida: las mismas corridas, en PostgreSQL
    shown = psql_readme_query(postgres)
    expected = readme_block_after("psql postgresql://")
    assert lines_without_spaces(shown) == lines_without_spaces(expected)
    assert not (pg_server.home / "prefect.db").exists()
    # La línea del README que vuelve a SQLite quita la variable del perfil
    (unset,) = readme_lines(
        "prefect config unset PREFECT_SERVER_DATABASE_CONNECTION_URL"
    )
    view = ["-m", "prefect", "config", "view", "--show-secrets"]
    before = run_script(*view, home=pg_server.home, timeout=120).stdout
    assert "PREFECT_SERVER_DATABASE_CONNECTION_URL" in before
    assert run_script("-m", *unset, home=pg_server.home, timeout=120).returncode == 0
    after = run_script(*view, home=pg_server.home, timeout=120).stdout
    assert "PREFECT_SERVER_DATABASE_CONNECTION_URL" not in after


@pytest.mark.postgres
def test_shift_on_postgres_shows_what_the_readme_shows(pg_server):
    result = run_script(
        "restaurant/turno.py",
        home=pg_server.home,
        api_url=pg_server.api_url,
        timeout=300,
        RESTAURANTE_ESCALA_TIEMPO="0",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    block = README.split("$ python restaurant/turno.py\n")[1].split("```")[0]
    assert normalized_tables(block) == normalized_tables(result.stdout)
    (shift,) = pg_server.flow_runs("atender-turno")
    assert shift["state_name"] == "Completed"
    parties = pg_server.post(
        "/flow_runs/filter",
        {"flow_runs": {"parent_flow_run_id": {"any_": [shift["id"]]}}},
    )
    assert len(parties) == 5 and {p["state_name"] for p in parties} == {"Completed"}


def bad_address_cases(postgres) -> list[tuple[str, str]]:
    """Direcciones equivocadas y la última línea que el README dice que se ve."""
    good = postgres.url()
    return [
        (
            good.replace(f":{postgres.port}/", f":{free_port()}/"),
            "ConnectionRefusedError: [Errno 111] Connect call failed ('127.0.0.1', ",
        ),
        (
            good.replace("prefect:prefect@", "prefect:otra@"),
            'password authentication failed for user "prefect"',
        ),
        (good.rsplit("/", 1)[0] + "/prefct", 'database "prefct" does not exist'),
        (
            good.replace("postgresql+asyncpg://", "postgresql://"),
            "ModuleNotFoundError: No module named 'psycopg'",
        ),
    ]


@pytest.mark.postgres
def test_wrong_database_address_stops_the_server_with_the_reason(postgres, tmp_path):
    for i, (address, reason) in enumerate(bad_address_cases(postgres)):
        server = PrefectServer(
            tmp_path / str(i),
            free_port(),
            PREFECT_SERVER_DATABASE_CONNECTION_URL=address,
        )
        with pytest.raises(RuntimeError) as failed:
            server.start()
        output = str(failed.value)
        assert "Application startup failed. Exiting." in output
        assert reason in output, output[-2000:]
        # El README muestra esa misma línea en su tabla de errores
        assert reason.split(", ")[0].split("('")[0] in README


def deploy_to_the_pool(server, home=None, **env) -> dict:
    """Los dos comandos del README: crear el pool y registrar en él el deployment."""
    (create,) = readme_lines("prefect work-pool create ")
    for args in (["-m", *create], ["restaurant/desplegar_restaurante.py"]):
        result = run_script(
            *args, home=home or server.home, api_url=server.api_url, **env
        )
        assert result.returncode == 0, result.stdout + result.stderr
    deployment = server.deployment("atender-persona/llegadas")
    assert deployment["work_pool_name"] == "restaurante"
    return deployment


@pytest.mark.postgres
@pytest.mark.browser
def test_two_workers_share_the_arrivals_and_no_table_is_double_booked(
    pg_server, request
):
    # Sin el pool, el script de la lección lo dice en lugar de fallar a medias
    no_pool = run_script(
        "restaurant/desplegar_restaurante.py",
        home=pg_server.home,
        api_url=pg_server.api_url,
    )
    assert no_pool.returncode == 1
    assert no_pool.stderr.startswith(
        "No se registra el deployment: el work pool 'restaurante' no existe"
    ), no_pool.stderr
    assert "prefect work-pool create restaurante --type process" in no_pool.stderr
    deployment = deploy_to_the_pool(pg_server)
    parties = [(f"Seis {i}", "6") for i in range(1, 4)] + [
        (f"Dos {i}", "2") for i in range(1, 4)
    ]
    # Cada grupo tarda unos segundos (escala 0.3): con --limit 2, el primer
    # worker no puede tomar las seis llegadas, el otro tiene que tomar alguna
    with pg_server.workers(
        PREFECT_WORKER_QUERY_SECONDS="1", RESTAURANTE_ESCALA_TIEMPO="0.3"
    ) as workers:
        assert sorted(workers) == ["mozo-1", "mozo-2"]
        for name, size in parties:
            announce(
                pg_server, "--nombre", name, "--personas", size, "--plato", "Limonada"
            )
        runs = eventually(
            lambda: pg_server.deployment_runs(deployment["id"]),
            lambda runs: (
                len(runs) == len(parties)
                and all(r["state_type"] == "COMPLETED" for r in runs)
            ),
            what="las seis llegadas atendidas por los workers, en Completed",
            timeout=300,
            every=1,
        )
        outputs = {name: pg_server.worker_output(name) for name in workers}
        assert sorted(r["name"] for r in runs) == sorted(
            f"atender-{n}" for n, _ in parties
        )
        assert {r["state_name"] for r in runs} == {"Completed"}
        by_worker = {}
        for run in runs:
            by_worker.setdefault(run["labels"]["prefect.worker.name"], []).append(run)
        assert sorted(by_worker) == ["mozo-1", "mozo-2"], by_worker.keys()
        for name, taken in by_worker.items():
            for run in taken:  # cada worker dice en su terminal qué corrida tomó
                assert (
                    f"Worker '{name}' submitting flow run '{run['id']}'"
                    in outputs[name]
                )
            # y que antes de cada corrida fue a la carpeta del código (from_source)
            assert "Executing deployment step: set_working_directory" in outputs[name]
            # --limit 2: nunca más de dos corridas a la vez en el mismo worker
            spans = [(time_of(r["start_time"]), time_of(r["end_time"])) for r in taken]
            assert most_at_once(spans) <= 2
        # La mesa de 6 es una sola: un grupo de 6 se sienta solo después de que el
        # anterior se despidió
        six = [r["id"] for r in runs if r["name"].startswith("atender-Seis")]
        assert len(six) == 3
        assert most_at_once(stays_at_table_five(pg_server, six)) == 1

        # La UI, al final (sin Chromium se salta, con lo demás ya probado):
        # Work Pools → restaurante → Workers, los dos en Online
        page = request.getfixturevalue("page")
        page.goto(f"{pg_server.url}/v2/work-pools/work-pool/restaurante")
        page.get_by_role("tab", name="Workers").click()
        for name in ("mozo-1", "mozo-2"):
            row = page.get_by_role("row").filter(has_text=name)
            row.get_by_text("Online").wait_for()


def time_of(stamp: str) -> float:
    return datetime.fromisoformat(stamp).timestamp()


AUTH = "admin:cambia-esta-clave"


@pytest.fixture(scope="module")
def protected_server(tmp_path_factory):
    """El servidor con contraseña del README (y protección CSRF)."""
    settings = readme_protected_settings()
    assert settings["PREFECT_SERVER_API_AUTH_STRING"] == AUTH
    server = PrefectServer(
        tmp_path_factory.mktemp("prefect-protegido"), free_port(), **settings
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_protected_server_answers_401_without_the_password(protected_server):
    assert protected_server.get("/health") is True  # sin contraseña, a propósito
    with pytest.raises(urllib.error.HTTPError) as refused:
        protected_server.get("/admin/version")
    assert refused.value.code == 401
    # Con la contraseña pero sin el token CSRF, escribir o filtrar da 403
    with with_password(protected_server, AUTH):
        request = urllib.request.Request(
            f"{protected_server.api_url}/flows/filter",
            data=b"{}",
            headers={"Content-Type": "application/json", **protected_server._headers()},
        )
        with pytest.raises(urllib.error.HTTPError) as no_token:
            urllib.request.urlopen(request, timeout=30)
        assert no_token.value.code == 403
        assert "Missing CSRF token" in no_token.value.read().decode()
        assert protected_server.post("/flows/filter", {}) == []  # con el token


@pytest.mark.parametrize(
    "auth, problem",
    [(None, "no está definida"), ("admin:otra", "no coincide con la del servidor")],
)
def test_scripts_explain_a_missing_or_wrong_password_in_spanish(
    protected_server, auth, problem
):
    extra = {"PREFECT_API_AUTH_STRING": auth} if auth else {}
    for command in (
        ["restaurant/run_restaurant.py"],
        ["restaurant/anunciar_llegada.py"],
        ["restaurant/paso9_cocina_cola.py"],  # capítulo 11: el mozo
        ["restaurant/cocineros.py", "--nombre", "Carla"],  # y el cocinero
    ):
        result = run_script(
            *command,
            home=protected_server.home,
            api_url=protected_server.api_url,
            RESTAURANTE_ESCALA_TIEMPO="0",
            **extra,
        )
        assert result.returncode == 1, result.stdout + result.stderr
        assert "Traceback" not in result.stderr
        assert result.stderr.startswith(
            f"El servidor {protected_server.api_url} pide usuario y contraseña "
            f"(401 Unauthorized):\nPREFECT_API_AUTH_STRING {problem}."
        ), result.stderr
    # El README muestra el mensaje sin la variable, con el puerto 4200
    if auth is None:
        shown = result.stderr.replace(
            protected_server.api_url, "http://127.0.0.1:4200/api"
        )
        assert readme_block_after("prefect config set PREFECT_API_AUTH_STRING=") == (
            "$ python restaurant/run_restaurant.py\n" + shown
        )


def test_with_the_readme_password_the_lesson_runs(protected_server):
    (line,) = readme_lines("prefect config set PREFECT_API_AUTH_STRING=")
    result = run_script(
        "-m", "prefect", *line[1:], home=protected_server.home, timeout=120
    )
    assert result.returncode == 0, result.stderr
    lesson = run_script(
        "restaurant/run_restaurant.py",
        home=protected_server.home,
        api_url=protected_server.api_url,
        unset=("PREFECT_API_AUTH_STRING",),  # la toma del perfil, como quien aprende
        RESTAURANTE_ESCALA_TIEMPO="0",
    )
    assert lesson.returncode == 0, lesson.stdout + lesson.stderr
    assert lesson.stdout.strip().endswith("Total: $25.15")
    with with_password(protected_server, AUTH):
        (run,) = protected_server.flow_runs("atender-persona")
    assert run["state_name"] == "Completed"


@pytest.mark.browser
def test_ui_of_the_protected_server_asks_for_the_password_first(protected_server, page):
    page.goto(f"{protected_server.url}/v2/runs")
    page.wait_for_url(re.compile(r"/v2/login"))
    field = page.get_by_placeholder("admin:pass")
    field.fill("admin:otra")  # con otra clave, no entra: la UI pregunta y el
    with page.expect_response(re.compile(r"/api/")) as answer:  # servidor dice 401
        page.get_by_role("button", name="Login").click()
    assert answer.value.status == 401
    assert "/login" in page.url
    field.fill(AUTH)
    page.get_by_role("button", name="Login").click()
    # Entra: sale de /login y aparece el menú de la UI
    page.wait_for_url(lambda url: "/login" not in url)
    page.get_by_role("link", name="Work Pools").first.wait_for()


@contextlib.contextmanager
def shift_on_postgres(tmp_path, prepare=None):
    """El turno del capítulo 6 (turno.py) contra un `prefect server start` sobre
    PostgreSQL; cede (cluster, servidor, turno) cuando los cinco grupos están
    sentados, comiendo: el momento de cortar PostgreSQL. `prepare(server)` corre
    antes de empezar el turno."""
    need_postgres()
    with PostgresCluster() as cluster:
        cluster.create_prefect_database()
        with PrefectServer(
            tmp_path, free_port(), PREFECT_SERVER_DATABASE_CONNECTION_URL=cluster.url()
        ) as server:
            if prepare:
                prepare(server)
            shift = server.in_background(
                "restaurant/turno.py", name="turno", RESTAURANTE_ESCALA_TIEMPO="1"
            )
            try:
                eventually(
                    lambda: occupied_tables(server),
                    lambda busy: len(busy) == 5,
                    what="los cinco grupos del turno sentados (antes del corte)",
                    timeout=120,
                )
                yield cluster, server, shift
            finally:
                if shift.poll() is None:
                    shift.kill()


def until_the_shift_dies_without_postgres(cluster, shift) -> float:
    """Cortar PostgreSQL y esperar a que el turno termine con error (sin base
    de datos, el servidor responde 500); recién entonces vuelve PostgreSQL.
    Devuelve cuándo murió el turno."""
    cluster.stop()
    eventually(
        shift.poll,
        lambda code: code is not None,
        what="que el turno termine sin PostgreSQL",
        timeout=180,
        every=0.5,
    )
    died = time.time()
    cluster.start()
    assert shift.returncode != 0
    return died


@pytest.mark.postgres
def test_postgres_stopped_mid_shift_leaves_runs_running_until_the_leases_expire(
    tmp_path,
):
    with shift_on_postgres(tmp_path) as (cluster, server, shift):
        until_the_shift_dies_without_postgres(cluster, shift)
        output = shift.log_path.read_text(errors="replace")
        assert "500 Internal Server Error" in output
        # Con PostgreSQL de vuelta, el mismo servidor responde sin reiniciarlo
        parties = server.flow_runs("atender-persona")
        stuck = [run for run in parties if run["state_type"] == "RUNNING"]
        assert stuck, [(run["name"], run["state_name"]) for run in parties]
        # Nadie devolvió sus mesas: quedan hasta que venza su lease
        assert occupied_tables(server)
        ended = time.monotonic()
        # El lease dura un minuto desde la última renovación
        eventually(
            lambda: occupied_tables(server),
            lambda busy: busy == {},
            what="que el servidor libere las mesas al vencer sus leases",
            timeout=TABLE_LEASE_SECONDS + 45,
        )
        print(f"Mesas libres {time.monotonic() - ended:.0f} s después del turno")


def install_the_manager_automations(server) -> None:
    """Las automations del capítulo 12 (nadie escucha el teléfono: aquí solo
    importa la que marca Crashed)."""
    installed = run_script(
        "restaurant/avisar_al_gerente.py",
        *("--puerto", str(free_port())),
        home=server.home,
        api_url=server.api_url,
    )
    assert installed.returncode == 0, installed.stderr


@pytest.mark.postgres
def test_runs_left_running_by_a_postgres_stop_are_marked_crashed_by_the_heartbeats(
    tmp_path,
):
    with shift_on_postgres(tmp_path, install_the_manager_automations) as (
        cluster,
        server,
        shift,
    ):
        died = until_the_shift_dies_without_postgres(cluster, shift)
        # Los grupos que quedaron en Running pasan a Crashed por la automation
        # (que mira solo las corridas de atender-persona: el turno sigue igual)
        parties = eventually(
            lambda: server.flow_runs("atender-persona"),
            lambda runs: (
                len(runs) == 5 and all(r["state_type"] != "RUNNING" for r in runs)
            ),
            what="que ningún grupo quede en Running",
            timeout=240,
        )
    crashed = [r for r in parties if r["state_name"] == "Crashed"]
    assert crashed, [(r["name"], r["state_name"]) for r in parties]
    for run in crashed:
        assert "automation corrida-sin-latidos" in run["state"]["message"]
    last = max(datetime.fromisoformat(r["state"]["timestamp"]) for r in crashed)
    print(
        f"{len(crashed)} corridas Crashed; la última, "
        f"{last.timestamp() - died:.0f} s después de que murió el turno"
    )


def retry_on_500_as_in_the_chapter(server) -> None:
    """El ajuste del capítulo 12, en el perfil, como lo pone quien aprende."""
    (setting,) = readme_lines("prefect config set PREFECT_CLIENT_RETRY_EXTRA_CODES=")
    configured = run_script(
        "-m", "prefect", *setting[1:], home=server.home, timeout=120
    )
    assert configured.returncode == 0, configured.stderr


@pytest.mark.postgres
def test_postgres_stopped_mid_shift_with_retries_on_500_loses_and_repeats_nobody(
    tmp_path,
):
    with shift_on_postgres(tmp_path, retry_on_500_as_in_the_chapter) as (
        cluster,
        server,
        shift,
    ):
        cluster.stop()
        stopped = time.monotonic()
        time.sleep(3)  # el corte: 3 s sin base de datos (no se espera nada)
        cluster.start()
        print(f"PostgreSQL detenido {time.monotonic() - stopped:.1f} s")
        assert shift.wait(timeout=240) == 0
        output = shift.log_path.read_text(errors="replace")
        assert "Turno terminado: 5 atendidos, 1 rechazados, 0 con problemas." in (
            output
        ), output
        # Nadie perdido ni repetido: una corrida por grupo, todas Completed
        parties = server.flow_runs("atender-persona")
        names = sorted(run["name"] for run in parties)
        assert names == sorted(
            f"atender-{n}" for n in ("Ana", "Bruno", "Carla", "Diego", "Elena")
        ), names
        assert {run["state_name"] for run in parties} == {"Completed"}
        # Ni un plato ni un cobro repetidos: 9 platos, una cuenta por grupo
        dishes = server.flow_runs("preparar-plato")
        assert len(dishes) == 9, [run["name"] for run in dishes]
        assert len({run["name"] for run in dishes}) == 9
        steps = {"Recibir a la persona", "Asignar mesa", "Tomar pedido"}
        steps |= {"Llevar la comida", "Cobrar el servicio", "Despedir a la persona"}
        # Los task runs los anota el servidor a partir de eventos: después del
        # corte se pone al día con retraso (el capítulo dice cuánto, con margen)
        ended = time.monotonic()
        for party in parties:
            eventually(
                lambda party=party: [
                    t["name"].rsplit("-", 1)[0]
                    for t in server.task_runs(party["id"])
                    if t["name"].rsplit("-", 1)[0] in steps
                ],
                lambda done: sorted(done) == sorted(steps),
                what=f"cada task de {party['name']} una vez",
                timeout=180,
            )
        print(f"Task runs al día {time.monotonic() - ended:.0f} s después del turno")
        bills = server.post(
            "/artifacts/filter", {"artifacts": {"key": {"any_": ["cuenta"]}}}
        )
        assert len(bills) == 5
        running = server.post(
            "/flow_runs/filter",
            {"flow_runs": {"state": {"type": {"any_": ["RUNNING", "PENDING"]}}}},
        )
        assert running == []
        assert occupied_tables(server) == {}


@pytest.fixture(scope="module")
def pool_server(tmp_path_factory):
    """Un `prefect server start` con el pool y el deployment del README, para las
    pruebas que matan procesos de los workers (cada una abre sus workers)."""
    with PrefectServer(tmp_path_factory.mktemp("pool"), free_port()) as server:
        yield server, deploy_to_the_pool(server)


def test_killed_worker_leaves_its_party_crashed_and_its_table_free(pool_server):
    server, deployment = pool_server
    with server.workers(
        PREFECT_WORKER_QUERY_SECONDS="1", RESTAURANTE_ESCALA_TIEMPO="2"
    ) as workers:
        announce(server, "--nombre", "Ana", "--personas", "6", "--plato", "Ravioles")
        # Cuando Ana ya está sentada en la mesa 5, se mata a su worker
        (run,) = eventually(
            lambda: server.deployment_runs(deployment["id"], "atender-Ana"),
            lambda runs: runs and runs[0]["state_name"] == "Running",
            what="la corrida de Ana en Running",
            timeout=120,
        )
        eventually(
            lambda: occupied_tables(server),
            lambda busy: busy != {},
            what="Ana sentada a su mesa",
            timeout=60,
        )
        worker = workers[run["labels"]["prefect.worker.name"]]
        os.killpg(worker.pid, signal.SIGKILL)
        killed = time.monotonic()
        final = eventually(
            lambda: server.get(f"/flow_runs/{run['id']}"),
            lambda found: found["state_type"] != "RUNNING",
            what="que la corrida de Ana deje Running",
            timeout=120,
            every=0.5,
        )
        eventually(
            lambda: occupied_tables(server),
            lambda busy: busy == {},
            what="la mesa de Ana libre",
            timeout=60,
            every=0.5,
        )
        freed = time.monotonic() - killed
    print(f"mesa libre {freed:.1f} s después de matar al worker: {final['state']}")
    assert final["state_name"] == "Crashed", final["state"]


def test_killed_run_of_a_worker_frees_its_table_through_the_crashed_hook(pool_server):
    server, deployment = pool_server
    with server.workers(
        PREFECT_WORKER_QUERY_SECONDS="1", RESTAURANTE_ESCALA_TIEMPO="0.2"
    ) as workers:
        # Sin postre elegido, la corrida espera en Paused, sentada a su mesa
        announce(server, "--nombre", "Bea", "--postre", "preguntar")
        (run,) = eventually(
            lambda: server.deployment_runs(deployment["id"], "atender-Bea"),
            lambda runs: runs and runs[0]["state_name"] == "Paused",
            what="la corrida de Bea en Paused",
            timeout=120,
        )
        table = run["labels"]["restaurante.mesa"]
        name = run["labels"]["prefect.worker.name"]
        # El worker ejecuta cada corrida en un proceso `python -m prefect.engine`
        (engine,) = [
            child
            for child in psutil.Process(workers[name].pid).children(recursive=True)
            if "prefect.engine" in " ".join(child.cmdline())
        ]
        engine.kill()  # SIGKILL
        killed = time.monotonic()
        eventually(
            lambda: occupied_tables(server),
            lambda busy: busy == {},
            what=f"la mesa {table} de Bea libre",
            timeout=60,
            every=0.2,
        )
        freed = time.monotonic() - killed
        eventually(
            lambda: server.get(f"/flow_runs/{run['id']}"),
            lambda found: found["state_name"] == "Crashed",
            what="la corrida de Bea en Crashed",
        )
        # El hook lo ejecutó el worker: su terminal lo dice
        output = " ".join(server.worker_output(name).split())
        assert f"Mesa {table} libre: la corrida terminó en Crashed." in output
    print(f"SIGKILL de la corrida de un worker: mesa {table} libre en {freed:.1f} s")
    # Antes de que el lease pudiera vencer: la liberó el hook, no el servidor
    assert freed < TABLE_LEASE_SECONDS - RENEW_SECONDS


def this_machine_address() -> str | None:
    """La dirección de esta máquina en su red (no 127.0.0.1), si tiene una."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            sock.connect(("192.0.2.1", 9))  # no envía nada: solo elige la interfaz
        except OSError:
            return None
        address = sock.getsockname()[0]
    return None if address.startswith("127.") else address


@pytest.mark.parametrize("protected", [False, True])
def test_server_on_all_interfaces_is_open_to_the_network_unless_protected(
    tmp_path, protected
):
    address = this_machine_address()
    if address is None:
        pytest.skip("esta máquina no tiene otra dirección que 127.0.0.1")
    settings = readme_protected_settings() if protected else {}
    with PrefectServer(tmp_path, free_port(), host="0.0.0.0", **settings) as server:
        # Desde "otra máquina": la dirección de red de esta, no 127.0.0.1
        request = urllib.request.Request(
            f"http://{address}:{server.port}/api/flows/filter",
            data=b"{}",
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        if protected:
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(request, timeout=30)
            assert refused.value.code in (401, 403)
        else:
            with urllib.request.urlopen(request, timeout=30) as response:
                assert response.status == 200  # nadie pidió contraseña


def test_default_server_is_not_reachable_from_the_network(real_server):
    address = this_machine_address()
    if address is None:
        pytest.skip("esta máquina no tiene otra dirección que 127.0.0.1")
    with pytest.raises(OSError):
        urllib.request.urlopen(
            f"http://{address}:{real_server.port}/api/health", timeout=10
        )


def test_workers_of_the_protected_server_need_the_password(protected_server, tmp_path):
    (create,) = readme_lines("prefect work-pool create ")
    # Sin la clave (otro PREFECT_HOME, sin perfil), la CLI recibe el 401
    refused = run_script(
        "-m", *create, home=tmp_path, api_url=protected_server.api_url, timeout=120
    )
    assert refused.returncode != 0
    assert "401" in refused.stdout + refused.stderr
    # Desde aquí, con la clave: las pruebas y cada proceso (PREFECT_API_AUTH_STRING)
    with with_password(protected_server, AUTH):
        env = {"PREFECT_API_AUTH_STRING": AUTH}
        deployment = deploy_to_the_pool(protected_server, tmp_path, **env)
        with protected_server.workers(
            PREFECT_WORKER_QUERY_SECONDS="1", RESTAURANTE_ESCALA_TIEMPO="0"
        ):
            announce(protected_server, home=tmp_path, **env)
            (run,) = eventually(
                lambda: protected_server.deployment_runs(deployment["id"]),
                lambda runs: runs and runs[0]["state_type"] == "COMPLETED",
                what="la llegada de Ana, atendida por un worker",
                timeout=120,
            )
        assert run["name"] == "atender-Ana"
        assert run["labels"]["prefect.worker.name"] in ("mozo-1", "mozo-2")
