""" "Limpiar y empezar de nuevo": cada comando del README, contra un servidor propio.

El servidor es nuevo y solo de este módulo: los comandos borran mesas,
deployments y la base de datos, y no deben tocar lo de las demás pruebas.
"""

import asyncio
import shlex
import sqlite3

import pytest

from herramientas.servidor import PrefectServer, free_port
from tests.helpers import ROOT, run_script

pytestmark = pytest.mark.server


def readme_cleanup_blocks() -> list[list[list[str]]]:
    """Los bloques de comandos del capítulo, cada comando como argumentos."""
    section = (ROOT / "capitulos" / "11-limpiar.md").read_text(encoding="utf-8")
    blocks = [b.split("```")[0] for b in section.split("```bash\n")[1:]]
    return [
        [shlex.split(line) for line in block.splitlines() if line.strip()]
        for block in blocks
    ]


def prefect(home, *args: str):
    """Un comando `prefect ...` como lo escribe quien aprende (usa su perfil)."""
    return run_script("-m", "prefect", *args, home=home, timeout=120)


def test_cleanup_commands_delete_what_the_lessons_left(tmp_path):
    from prefect.settings import PREFECT_API_URL, temporary_settings

    import run_iris
    import serve_iris
    import serve_restaurant
    from mesas import open_restaurant
    from run_restaurant import serve_party

    server = PrefectServer(tmp_path, free_port())
    with server:
        # Lo que dejan las lecciones: el perfil apuntando al servidor, una
        # corrida, las mesas y los dos deployments
        setup = prefect(tmp_path, "config", "set", f"PREFECT_API_URL={server.api_url}")
        assert setup.returncode == 0, setup.stderr

        async def leave_everything() -> None:
            await open_restaurant()
            iris = await run_iris.iris_classification.ato_deployment(
                name="iris-diario", schedules=[serve_iris.SCHEDULE]
            )
            await iris.aapply()
            arrivals = await serve_party.ato_deployment(
                name="llegadas", triggers=[serve_restaurant.arrival_trigger]
            )
            await arrivals.aapply()

        with temporary_settings({PREFECT_API_URL: server.api_url}):
            asyncio.run(leave_everything())
            run_iris.iris_classification()
        assert len(server.post("/deployments/filter", {})) == 2

        while_open, after_stopping = readme_cleanup_blocks()
        for command in while_open:
            assert command[0] == "prefect"
            done = prefect(tmp_path, *command[1:])
            assert done.returncode == 0, (command, done.stdout, done.stderr)

        assert server.post("/deployments/filter", {}) == []
        limits = server.post("/v2/concurrency_limits/filter", {})
        assert [limit["name"] for limit in limits] == []
        shown = prefect(tmp_path, "config", "view").stdout
        assert "PREFECT_API_URL" not in shown
        assert server.post("/flow_runs/count", {}) >= 1
    # Con el servidor detenido (Ctrl+C), se borra la base de datos
    for command in after_stopping:
        done = prefect(tmp_path, *command[1:])
        assert done.returncode == 0, (command, done.stdout, done.stderr)
    with sqlite3.connect(tmp_path / "prefect.db") as database:
        (runs,) = database.execute("select count(*) from flow_run").fetchone()
    assert runs == 0
