"""De punta a punta: las lecciones contra un `prefect server start` real.

Las pruebas ejecutan los scripts como quien aprende (procesos aparte, con
PREFECT_API_URL apuntando al servidor) y comprueban por la API lo que la UI va
a mostrar.
"""

import asyncio
import json
import time
import urllib.request

import prefect
import pytest

from grupo import SAMPLE_PARTY
from herramientas import servidor
from mesas import TABLE_LEASE_SECONDS, open_restaurant, take_table
from tests.helpers import (
    RESTAURANT_STEPS,
    ROOT,
    eventually,
    occupied_tables,
    quick_start_link,
    run_script,
)

# El manifiesto de las capturas: qué versión de Prefect muestran
MANIFEST = ROOT / "imagenes" / "capturas.json"


def by_prefix(runs: list[dict]) -> list[str]:
    return [run["name"].rsplit("-", 1)[0] for run in runs]


@pytest.mark.server
def test_server_ui_points_at_its_own_api(real_server):
    assert real_server.get("/health") is True
    with urllib.request.urlopen(f"{real_server.url}/ui-settings") as response:
        settings = json.load(response)
    # Sin PREFECT_SERVER_API_PORT la UI llamaría a la API en el puerto 4200
    assert settings["api_url"] == real_server.api_url


@pytest.mark.server
def test_ui_asks_port_4200_unless_the_api_port_is_set(tmp_path):
    other = servidor.PrefectServer(tmp_path, servidor.free_port(), set_api_port=False)
    with other:
        with urllib.request.urlopen(f"{other.url}/ui-settings") as response:
            settings = json.load(response)
    assert settings["api_url"] == "http://127.0.0.1:4200/api"


@pytest.mark.server
def test_second_server_on_a_busy_port_says_so(real_server, tmp_path):
    result = run_script(
        *("-m", "prefect", "server", "start", "--port", str(real_server.port)),
        home=tmp_path,
        timeout=60,
    )
    assert result.returncode == 1
    assert f"Port {real_server.port} is already in use" in result.stdout


@pytest.mark.server
def test_expired_table_lease_is_freed_by_prefect_server_start(tmp_path):
    # Si el proceso que ocupa una mesa muere sin liberarla, el servidor la devuelve
    # cuando vence el lease (TABLE_LEASE_SECONDS: 60 s, lo más corto que admite).
    # Con un servidor propio, este minuto de espera no demora a las demás pruebas
    from prefect import get_client
    from prefect.settings import PREFECT_API_URL, temporary_settings

    async def take_and_forget() -> None:
        await open_restaurant()
        async with get_client() as client:
            assert await take_table(client, 1) is not None

    with (
        servidor.PrefectServer(tmp_path, servidor.free_port()) as server,
        temporary_settings({PREFECT_API_URL: server.api_url}),
    ):
        asyncio.run(take_and_forget())
        taken_at = time.monotonic()
        assert occupied_tables(server) == {"mesa-1": 1}
        eventually(
            lambda: occupied_tables(server),
            lambda busy: busy == {},
            what="que el servidor libere la mesa 1 al vencer su lease",
            timeout=TABLE_LEASE_SECONDS + 60,
        )
        assert time.monotonic() - taken_at >= TABLE_LEASE_SECONDS - 5  # no antes


@pytest.mark.server
def test_quick_start_run_is_already_in_prefect_server_start(real_server, quick_start):
    # El servidor temporal guardó la corrida en PREFECT_HOME/prefect.db; el
    # servidor real, iniciado después con el mismo PREFECT_HOME, la muestra
    run_id = quick_start_link(quick_start["salida"])[2]
    run = real_server.get(f"/flow_runs/{run_id}")
    assert run["state_name"] == "Completed"
    assert (
        f"Flow run '{run['name']}' - Finished in state Completed()"
        in (quick_start["salida"])
    )
    assert real_server.get(f"/flows/{run['flow_id']}")["name"] == "iris-classification"
    assert by_prefix(real_server.task_runs(run_id)) == [
        "Load Iris Dataset",
        "Split Data",
        "Train Model",
    ]


@pytest.mark.server
def test_iris_run_is_completed_with_its_three_tasks(real_server, lesson_runs):
    run = lesson_runs["iris"]
    assert run["state_name"] == "Completed"
    task_runs = real_server.task_runs(run["id"])
    assert by_prefix(task_runs) == ["Load Iris Dataset", "Split Data", "Train Model"]
    assert {t["state_name"] for t in task_runs} == {"Completed"}


@pytest.mark.server
def test_iris_prints_are_logs_and_artifacts_are_attached(real_server, lesson_runs):
    run = lesson_runs["iris"]
    logs = real_server.post(
        "/logs/filter", {"logs": {"flow_run_id": {"any_": [run["id"]]}}}
    )
    messages = [log["message"] for log in logs]
    assert "Exactitud (accuracy) en los datos de prueba: 0.967" in messages
    artifacts = real_server.post(
        "/artifacts/filter", {"artifacts": {"flow_run_id": {"any_": [run["id"]]}}}
    )
    assert {a["key"] for a in artifacts} == {"iris-metricas", "iris-matriz-confusion"}


@pytest.mark.server
def test_restaurant_run_has_its_six_steps_and_three_subflows(real_server, lesson_runs):
    run = lesson_runs["restaurante"]
    assert run["name"] == "atender-Ana" and run["state_name"] == "Completed"
    steps = [
        name
        for name in by_prefix(real_server.task_runs(run["id"]))
        if name != "preparar-plato"
    ]
    assert steps == RESTAURANT_STEPS
    subflows = real_server.post(
        "/flow_runs/filter",
        {"flow_runs": {"parent_flow_run_id": {"any_": [run["id"]]}}},
    )
    assert sorted(s["name"] for s in subflows) == [
        f"preparar-Ana-{i}-{dish}" for i, dish in enumerate(SAMPLE_PARTY["pedido"], 1)
    ]
    assert {s["state_name"] for s in subflows} == {"Completed"}


@pytest.mark.server
def test_restaurant_logs_and_bill_are_in_the_server(real_server, lesson_runs):
    run = lesson_runs["restaurante"]
    logs = real_server.post(
        "/logs/filter", {"logs": {"flow_run_id": {"any_": [run["id"]]}}}
    )
    messages = " ".join(log["message"] for log in logs)
    assert "Bienvenida, Ana: mesa para 3, por favor." in messages
    assert "Despedir a la persona: ¡gracias por venir, Ana!" in messages
    artifacts = real_server.post(
        "/artifacts/filter", {"artifacts": {"flow_run_id": {"any_": [run["id"]]}}}
    )
    ticket = next(a for a in artifacts if a["key"] == "ticket")
    assert "**Total: $25.15**" in ticket["data"]


@pytest.mark.server
def test_scripts_print_where_to_see_the_run(real_server, lesson_runs):
    for output in lesson_runs["salidas"].values():
        assert f"View at {real_server.url}/v2/runs/flow-run/" in output
        assert "servidor temporal" not in output


def test_manifest_matches_the_prefect_minor_that_requirements_install():
    from packaging.requirements import Requirement
    from packaging.version import Version

    manifest = json.loads(MANIFEST.read_text(encoding="utf-8"))
    shown = Version(manifest["prefect"])
    line = next(
        line
        for line in (ROOT / "requirements.txt").read_text().splitlines()
        if line.startswith("prefect")
    )
    allowed = Requirement(line).specifier
    assert allowed.contains(shown), f"{line} no instala Prefect {shown}"
    installed = Version(prefect.__version__)
    assert installed.release[:2] == shown.release[:2], (
        f"Prefect {installed} instalado, pero las capturas muestran {shown}"
    )
    for other in (
        Version(f"{shown.major}.{shown.minor + 1}.0"),
        Version(f"{shown.major}.{shown.minor - 1}.99"),
        Version(f"{shown.major + 1}.0.0"),
    ):
        assert not allowed.contains(other), (
            f"requirements.txt admite Prefect {other}, pero las capturas muestran "
            f"{shown}: regenéralas (python imagenes/capturar.py)"
        )
