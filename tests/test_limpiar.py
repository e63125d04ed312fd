""" "Limpiar y empezar de nuevo": cada comando del capítulo, contra un servidor propio.

El servidor es nuevo y solo de este módulo: los comandos borran mesas,
deployments y la base de datos, y no deben tocar lo de las demás pruebas. Los
comandos corren en una terminal (una pseudo-terminal): ahí Prefect pregunta
"Are you sure...?" si nadie le dice que no lo haga, y una prueba sin terminal
no lo vería.
"""

import asyncio
import os
import shlex
import shutil
import sqlite3
import subprocess

import pytest

from almacen import BLOCK, SECRET
from herramientas.servidor import PrefectServer, free_port
from tests.helpers import ROOT, in_a_terminal

pytestmark = pytest.mark.server


def chapter_blocks() -> list[list[list[str]]]:
    """Los bloques de comandos del capítulo, cada comando como argumentos."""
    section = (ROOT / "capitulos" / "14-limpiar.md").read_text(encoding="utf-8")
    blocks = [b.split("```")[0] for b in section.split("```bash\n")[1:]]
    return [
        [shlex.split(line) for line in block.splitlines() if line.strip()]
        for block in blocks
    ]


def in_terminal(
    home, *args: str, timeout: float = 90, until: str | None = None
) -> tuple[int | None, str]:
    """Ejecutar `prefect ...` en una terminal, sin escribirle nada.

    Devuelve el código de salida y lo que mostró; si muestra `until` (una
    pregunta) o a los `timeout` segundos sigue esperando, se lo detiene y el
    código es None.
    """
    env = {
        **os.environ,
        "PREFECT_HOME": str(home),
        "PYTHONUTF8": "1",
        "TERM": "xterm",
        "COLUMNS": "200",
    }
    env.pop("PREFECT_API_URL", None)  # vale lo que dice el perfil de quien aprende
    return in_a_terminal(["-m", "prefect", *args], env, until=until, timeout=timeout)


def count_rows(database, table: str = "flow_run") -> int:
    with sqlite3.connect(database) as connection:
        return connection.execute(f"select count(*) from {table}").fetchone()[0]


def saved_blocks(server) -> list[str]:
    """Los bloques con nombre del servidor (sin los anónimos, que van dentro de
    otro bloque)."""
    documents = server.post(
        "/block_documents/filter",
        {"block_documents": {"is_anonymous": {"eq_": False}}, "sort": "NAME_ASC"},
    )
    return [document["name"] for document in documents]


def leave_everything(api_url: str) -> None:
    """Lo que dejan las lecciones en un servidor: una corrida, las mesas, los
    deployments (con el del ejercicio del capítulo 8), el work pool, la mesa
    del ejercicio del capítulo 6, la variable y los bloques del capítulo 10 y
    los límites del proveedor y del horno del capítulo 11, y el bloque y las
    automations del gerente del capítulo 12."""
    from prefect import get_client
    from prefect.automations import Automation
    from prefect.blocks.system import Secret
    from prefect.client.schemas.actions import (
        GlobalConcurrencyLimitCreate,
        WorkPoolCreate,
    )
    from prefect.events.actions import DoNothing
    from prefect.events.schemas.automations import EventTrigger
    from prefect.settings import PREFECT_API_URL, temporary_settings
    from prefect.variables import Variable

    import run_iris
    import serve_iris
    import serve_restaurant
    from almacen import storage_block
    from avisar_al_gerente import install
    from cobro import JAM_VARIABLE
    from mesas import open_restaurant
    from run_restaurant import serve_party

    async def create() -> None:
        await open_restaurant()
        iris = await run_iris.iris_classification.ato_deployment(
            name="iris-diario", schedules=[serve_iris.SCHEDULE]
        )
        await iris.aapply()
        arrivals = await serve_party.ato_deployment(
            name="llegadas", triggers=[serve_restaurant.arrival_trigger]
        )
        await arrivals.aapply()
        async with get_client() as client:
            await client.create_work_pool(
                WorkPoolCreate(name="restaurante", type="process")
            )
            await client.upsert_global_concurrency_limit_by_name("mesa-6", limit=1)
            # Los del capítulo 11: el ritmo del proveedor y el horno (por etiqueta)
            await client.create_global_concurrency_limit(
                GlobalConcurrencyLimitCreate(
                    name="proveedor", limit=2, slot_decay_per_second=1
                )
            )
            await client.create_concurrency_limit(tag="horno", concurrency_limit=1)
            await Variable.aset(JAM_VARIABLE, 0)  # la del capítulo 10
        # Los bloques del capítulo 10 (sin S3 de por medio: solo se guardan)
        await storage_block("cache-busqueda", "http://127.0.0.1:9000", "cocina").save(
            BLOCK
        )
        await Secret(value="moto").save(SECRET)
        await install(port=8765, seat_wait=60, beat=30)  # las del capítulo 12
        await Automation(  # la del ejercicio del capítulo 12
            name="revisar-la-cocina",
            trigger=EventTrigger(expect={"restaurante.plato.no-salio"}, threshold=2),
            actions=[DoNothing()],
        ).acreate()
        every_two = await run_iris.iris_classification.ato_deployment(
            name="iris-cada-dos-minutos", cron="*/2 * * * *"
        )
        await every_two.aapply()

    with temporary_settings({PREFECT_API_URL: api_url}):
        asyncio.run(create())
        run_iris.iris_classification()


def prefect_in(home):
    """`prefect ...` en una terminal con ese PREFECT_HOME: sin preguntas y sin error."""

    def prefect(*args: str) -> str:
        code, shown = in_terminal(home, *args)
        assert code is not None, (
            f"`prefect {' '.join(args)}` se quedó esperando:\n{shown}"
        )
        assert code == 0, f"`prefect {' '.join(args)}` falló:\n{shown}"
        return shown

    return prefect


def test_cleanup_commands_delete_what_the_lessons_left(tmp_path):
    prefect = prefect_in(tmp_path)
    with PrefectServer(tmp_path, free_port()) as server:
        # El perfil de quien aprende apunta al servidor
        prefect("config", "set", f"PREFECT_API_URL={server.api_url}")
        leave_everything(server.api_url)
        assert len(server.post("/deployments/filter", {})) == 3
        assert len(server.post("/variables/filter", {})) == 1
        assert saved_blocks(server) == [BLOCK, SECRET, "telefono-gerente"]
        assert sorted(a["name"] for a in server.post("/automations/filter", {})) == [
            "corrida-sin-latidos",
            "grupo-sin-mesa",
            "llegada-de-una-persona",  # la del deployment llegadas (capítulo 8)
            "plato-que-no-sale",
            "revisar-la-cocina",
        ]
        assert [
            limit["tag"] for limit in server.post("/concurrency_limits/filter", {})
        ] == ["horno"]

        # Sin --no-prompt, en una terminal, borrar una mesa pregunta y espera
        code, shown = in_terminal(
            tmp_path, "gcl", "delete", "mesa-1", timeout=60, until="Are you sure"
        )
        assert code is None and "Are you sure" in shown, shown
        limits = server.post("/v2/concurrency_limits/filter", {})
        assert "mesa-1" in [limit["name"] for limit in limits]  # no borró nada

        while_open, exercises, _, _ = chapter_blocks()
        for command in while_open + exercises:
            if command[0] == "git":
                continue  # en otra prueba, en una copia: aquí desharía cambios
            assert command[:2] == ["prefect", "--no-prompt"], command
            if command[-1] == "llegada-de-una-persona":
                # Lo que dice el capítulo: el deployment llegadas ya se borró, y su
                # disparador sigue en el servidor
                assert (
                    server.post(
                        "/deployments/filter",
                        {"deployments": {"name": {"any_": ["llegadas"]}}},
                    )
                    == []
                )
                left = [a["name"] for a in server.post("/automations/filter", {})]
                assert "llegada-de-una-persona" in left, left
            prefect(*command[1:])

        assert server.post("/deployments/filter", {}) == []
        limits = server.post("/v2/concurrency_limits/filter", {})
        assert [limit["name"] for limit in limits] == []
        assert server.post("/work_pools/filter", {}) == []
        assert server.post("/variables/filter", {}) == []
        assert saved_blocks(server) == []
        assert server.post("/automations/filter", {}) == []
        assert server.post("/concurrency_limits/filter", {}) == []
        assert server.post("/flow_runs/count", {}) >= 1

        # Lo que no se creó: el comando dice que no lo encuentra, y nada más
        code, shown = in_terminal(
            tmp_path, "--no-prompt", "work-pool", "delete", "restaurante"
        )
        assert code == 1 and "Work pool 'restaurante' does not exist." in shown, shown
        code, shown = in_terminal(
            tmp_path, "--no-prompt", "variable", "unset", "atasco-impresora"
        )
        assert code == 1 and "Variable 'atasco-impresora' not found." in shown, shown
        code, shown = in_terminal(
            tmp_path, "--no-prompt", "block", "delete", f"s3-bucket/{BLOCK}"
        )
        assert code == 1 and f"Block 's3-bucket/{BLOCK}' not found!" in shown, shown


def test_starting_over_empties_the_database_and_the_profile(tmp_path):
    prefect = prefect_in(tmp_path)
    with PrefectServer(tmp_path, free_port()) as server:
        prefect("config", "set", f"PREFECT_API_URL={server.api_url}")
        leave_everything(server.api_url)

    # Con el servidor detenido (Ctrl+C). Quien hizo el capítulo 9 tiene en su
    # perfil otra base de datos (aquí, una copia de la de SQLite en lugar de
    # PostgreSQL) y una contraseña
    other = tmp_path / "otra.db"
    shutil.copy(tmp_path / "prefect.db", other)
    prefect(
        "config",
        "set",
        f"PREFECT_SERVER_DATABASE_CONNECTION_URL=sqlite+aiosqlite:///{other}",
    )
    prefect("config", "set", "PREFECT_API_AUTH_STRING=admin:cambia-esta-clave")
    prefect("config", "set", "PREFECT_CLIENT_RETRY_EXTRA_CODES=500")  # capítulo 12
    tables = ("flow_run", "deployment", "concurrency_limit_v2", "work_pool", "variable")
    assert all(count_rows(tmp_path / "prefect.db", table) for table in tables)
    _, _, production, last = chapter_blocks()
    for command in production:
        prefect(*command[1:])
    # El primer reset borró la base del perfil, no la de SQLite
    assert count_rows(other) == 0
    assert count_rows(tmp_path / "prefect.db") >= 1
    for command in last:
        prefect(*command[1:])
    left = {table: count_rows(tmp_path / "prefect.db", table) for table in tables}
    assert left == dict.fromkeys(tables, 0)
    shown = prefect("config", "view")
    for setting in (
        "PREFECT_API_URL",
        "PREFECT_SERVER_DATABASE_CONNECTION_URL",
        "PREFECT_API_AUTH_STRING",
        "PREFECT_CLIENT_RETRY_EXTRA_CODES",
    ):
        assert setting not in shown, shown


def test_git_command_undoes_the_exercises_on_the_menu_and_the_tables(tmp_path):
    # El comando del capítulo, en una copia con git: no toca este repositorio
    (command,) = [c for block in chapter_blocks() for c in block if c[0] == "git"]
    copy = tmp_path / "tutorial"
    (copy / "restaurant").mkdir(parents=True)
    originals = {}
    for name in ("mesas.csv", "menu.csv"):
        originals[name] = (ROOT / "restaurant" / name).read_bytes()
        (copy / "restaurant" / name).write_bytes(originals[name])

    def git(*args: str) -> None:
        subprocess.run(["git", *args], cwd=copy, check=True, capture_output=True)

    git("init", "-q")
    git("add", ".")
    git(
        "-c",
        "user.name=Aprendiz",
        "-c",
        "user.email=a@b.c",
        "commit",
        "-qm",
        "tutorial",
    )
    for name in ("mesas.csv", "menu.csv"):  # las soluciones de los ejercicios
        shutil.copy(ROOT / "soluciones" / name, copy / "restaurant" / name)
        assert (copy / "restaurant" / name).read_bytes() != originals[name]
    subprocess.run(command, cwd=copy, check=True)
    for name, original in originals.items():
        assert (copy / "restaurant" / name).read_bytes() == original
