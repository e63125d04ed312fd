"""Cron y disparadores contra un `prefect server start` real.

Cada prueba levanta el proceso `serve` de la lección, como quien aprende, con
el sondeo acortado a 1 s, y lo detiene por su PID aunque algo falle.
"""

import json
import shlex
import signal
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from herramientas.documentos import docs_text
from tests.helpers import (
    announce,
    eventually,
    most_at_once,
    prefect_cli,
    run_script,
    stays_at_table_five,
)

POLL_SECONDS = "1"


def serving(server, script: str):
    """Servir el deployment de una lección con el restaurante sin esperas."""
    return server.serving(script, RESTAURANTE_ESCALA_TIEMPO="0")


def finished(runs: list[dict]) -> bool:
    return bool(runs) and all(
        run["state_type"] in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED")
        for run in runs
    )


def test_temporary_server_runs_no_scheduler_and_frees_no_expired_lease():
    # Los servicios de fondo que arranca cada servidor: el temporal (el de un
    # script sin PREFECT_API_URL) no programa horarios ni vence leases
    import prefect.server.services.late_runs  # noqa: F401
    import prefect.server.services.repossessor  # noqa: F401
    import prefect.server.services.scheduler  # noqa: F401
    from prefect.server.services.perpetual_services import get_perpetual_services

    def names(ephemeral: bool) -> set[str]:
        return {c.function.__name__ for c in get_perpetual_services(ephemeral)}

    only_on_prefect_server_start = names(ephemeral=False) - names(ephemeral=True)
    assert {
        "schedule_deployments",
        "monitor_expired_leases",
        "monitor_late_runs",
    } <= only_on_prefect_server_start


def test_serve_looks_for_new_runs_every_10_seconds_by_default():
    from prefect.settings import Settings

    # Lo que dice el README; las pruebas lo bajan a 1 s (PREFECT_RUNNER_POLL_FREQUENCY)
    assert Settings().runner.poll_frequency == 10


@pytest.mark.server
def test_cron_deployment_has_its_schedule_and_runs_now(module_server):
    with serving(module_server, "introduction/serve_iris.py") as serve:
        found = module_server.deployment("iris-classification/iris-diario")
        (schedule,) = found["schedules"]
        assert schedule["schedule"]["cron"] == "0 8 * * 1-5"
        assert schedule["schedule"]["timezone"] == "America/Argentina/Buenos_Aires"
        assert schedule["active"] is True
        # El programador del servidor crea las próximas corridas (Upcoming)
        upcoming = eventually(
            lambda: scheduled(module_server.deployment_runs(found["id"])),
            lambda runs: len(runs) >= 1,
            what="que el programador del servidor cree las próximas corridas",
            timeout=60,
        )
        assert all(is_weekday_at_8(run) for run in upcoming)

        result = prefect_cli(
            module_server, "deployment", "run", "iris-classification/iris-diario"
        )
        assert result.returncode == 0, result.stdout + result.stderr
        eventually(
            lambda: module_server.deployment_runs(found["id"]),
            lambda runs: any(run["state_name"] == "Completed" for run in runs),
            what="que la corrida de `prefect deployment run` termine en Completed",
            timeout=120,
            every=0.5,
        )
    # Ctrl+C: el deployment queda en pausa y sus corridas programadas se borran
    after = module_server.deployment("iris-classification/iris-diario")
    shown = (module_server.home / "serve_iris.log").read_text(errors="replace")
    assert serve.returncode != -signal.SIGKILL, f"serve no salió con Ctrl+C:\n{shown}"
    assert after["paused"] is True, f"serve salió con {serve.returncode}:\n{shown}"
    assert scheduled(module_server.deployment_runs(found["id"])) == []
    assert any(
        run["state_name"] == "Completed"
        for run in module_server.deployment_runs(found["id"])
    )


def scheduled(runs: list[dict]) -> list[dict]:
    return [run for run in runs if run["state_type"] == "SCHEDULED"]


def is_weekday_at_8(run: dict) -> bool:
    """¿Está programada a las 8:00 de un día hábil, hora de Buenos Aires?"""
    when = datetime.fromisoformat(run["expected_start_time"]).astimezone(
        ZoneInfo("America/Argentina/Buenos_Aires")
    )
    return (when.hour, when.minute) == (8, 0) and when.isoweekday() <= 5


def readme_emit_command() -> list[str]:
    """El `prefect event emit` del README, como argumentos (sin `prefect`)."""
    readme = docs_text()
    (line,) = [
        line for line in readme.splitlines() if line.startswith("prefect event emit")
    ]
    return shlex.split(line)[1:]


@pytest.mark.server
def test_readme_cli_arrival_while_serve_is_stopped_waits_for_the_next_serve(
    module_server,
):
    with serving(module_server, "restaurant/serve_restaurant.py"):
        found = module_server.deployment("atender-persona/llegadas")
        related = f"/automations/related-to/prefect.deployment.{found['id']}"
        (first,) = module_server.get(related)
    # Ctrl+C: el deployment sigue activo y su disparador también
    assert module_server.deployment("atender-persona/llegadas")["paused"] is False
    assert [a["enabled"] for a in module_server.get(related)] == [True]
    before = {run["id"] for run in module_server.deployment_runs(found["id"])}

    emitted = prefect_cli(module_server, *readme_emit_command())
    assert emitted.returncode == 0, emitted.stderr
    (waiting,) = eventually(
        lambda: [
            run
            for run in module_server.deployment_runs(found["id"])
            if run["id"] not in before
        ],
        lambda runs: len(runs) == 1 and runs[0]["state_name"] == "Late",
        what="una corrida nueva que nadie ejecuta, en Late",
        timeout=90,
        every=1,
    )
    # Nadie la ejecuta: pasa de Scheduled a Late, y espera
    assert waiting["parameters"]["grupo"]["nombre"] == "Carla"

    with serving(module_server, "restaurant/serve_restaurant.py"):
        # Al volver a servir, el disparador se borra y se crea de nuevo
        (second,) = module_server.get(related)
        assert second["id"] != first["id"]
        done = eventually(
            lambda: module_server.get(f"/flow_runs/{waiting['id']}"),
            lambda run: run["state_type"] in ("COMPLETED", "FAILED", "CRASHED"),
            what="que serve, de vuelta, ejecute la corrida que esperaba",
            timeout=120,
            every=0.5,
        )
    assert done["state_name"] == "Completed"
    assert done["name"] == "atender-Carla"
    assert done["created_by"]["display_value"] == "llegada-de-una-persona"


@pytest.mark.server
def test_arrival_event_starts_exactly_one_completed_run(module_server):
    party = {"nombre": "Bruno", "personas": 2, "pedido": ["Ravioles", "Limonada"]}
    with serving(module_server, "restaurant/serve_restaurant.py"):
        found = module_server.deployment("atender-persona/llegadas")
        before = {run["id"] for run in module_server.deployment_runs(found["id"])}
        result = announce(
            module_server,
            *("--nombre", "Bruno", "--personas", "2"),
            *("--plato", "Ravioles", "--plato", "Limonada"),
        )
        assert "Llegó Bruno (2 personas)" in result.stdout
        runs = eventually(
            lambda: module_server.deployment_runs(found["id"]),
            lambda runs: len(runs) > len(before) and finished(runs),
            what="la corrida de la llegada de Bruno, terminada",
            timeout=120,
            every=0.5,
        )
    # La API ordena por id (al azar), no por creación: las nuevas se buscan por id
    new = [run for run in runs if run["id"] not in before]
    assert len(new) == 1, [run["name"] for run in new]
    (run,) = new
    assert run["created_by"]["type"] == "AUTOMATION"
    assert run["created_by"]["display_value"] == "llegada-de-una-persona"
    assert run["parameters"]["grupo"] == party
    assert run["state_name"] == "Completed"
    assert run["name"] == "atender-Bruno"


@pytest.mark.server
def test_payload_that_does_not_validate_creates_no_run(module_server):
    with serving(module_server, "restaurant/serve_restaurant.py"):
        found = module_server.deployment("atender-persona/llegadas")
        before = len(module_server.deployment_runs(found["id"]))
        # Así llega un evento que nadie validó: directo, con la CLI de Prefect
        bad = {"grupo": {"nombre": "Zoe", "personas": "tres", "pedido": ["Limonada"]}}
        emitted = prefect_cli(
            module_server,
            *("event", "emit", "restaurante.persona.llegada"),
            *("--resource-id", "restaurante.persona.zoe"),
            *("--payload", json.dumps(bad)),
        )
        assert emitted.returncode == 0, emitted.stderr

        def failures():
            body = {"filter": {"event": {"name": ["prefect.automation.action.failed"]}}}
            return module_server.post("/events/filter", body)["events"]

        failed = eventually(
            failures,
            lambda events: any("'tres'" in e["payload"]["reason"] for e in events),
            what="el evento prefect.automation.action.failed de la llegada de Zoe",
            timeout=60,
        )
        reasons = [e["payload"]["reason"] for e in failed]
        assert any("grupo.personas" in reason for reason in reasons)
        # La acción que habría creado la corrida ya terminó, con ese fallo: no
        # hay nada más que esperar
        assert len(module_server.deployment_runs(found["id"])) == before


def test_announcer_refuses_a_bad_party_before_emitting(tmp_path):
    result = run_script(
        "restaurant/anunciar_llegada.py",
        "--personas",
        "tres",
        home=tmp_path,
        api_url="http://127.0.0.1:9/api",  # nadie escucha: no debe llegar a emitir
        timeout=60,
    )
    assert result.returncode == 2
    assert "No se anuncia la llegada:" in result.stderr
    assert "número entero; llegó 'tres'" in result.stderr
    # El README muestra esta misma salida
    readme = docs_text()
    shown = readme.split("$ python restaurant/anunciar_llegada.py --personas tres\n")[1]
    assert result.stderr == shown.split("```")[0]


def test_announcer_needs_the_api_url(tmp_path):
    result = run_script("restaurant/anunciar_llegada.py", home=tmp_path, timeout=60)
    assert result.returncode == 1
    assert "Falta PREFECT_API_URL" in result.stderr


@pytest.mark.parametrize(
    ("script", "reason"),
    [
        ("introduction/serve_iris.py", "no ejecuta horarios"),
        ("restaurant/serve_restaurant.py", "se apaga\ncon este proceso"),
    ],
)
def test_serve_scripts_refuse_to_start_without_a_server(tmp_path, script, reason):
    # Antes servían en un servidor temporal hasta que alguien los detuviera
    result = run_script(script, home=tmp_path, timeout=60)
    assert result.returncode == 1
    assert result.stderr.startswith("No se sirve el deployment: falta PREFECT_API_URL")
    assert reason in result.stderr
    assert "Starting temporary server" not in result.stdout + result.stderr


def test_announcer_says_so_when_the_server_does_not_answer(tmp_path):
    # Con emit_event() el script decía "Llegó" y el evento se perdía en silencio
    result = run_script(
        "restaurant/anunciar_llegada.py",
        home=tmp_path,
        api_url="http://127.0.0.1:9/api",  # nadie escucha
        timeout=60,
    )
    assert result.returncode == 1
    assert "Llegó" not in result.stdout
    assert "No se anunció la llegada de Ana" in result.stderr
    assert "el servidor http://127.0.0.1:9/api no respondió" in result.stderr


def test_emit_event_without_a_server_says_nothing_and_loses_the_event(tmp_path):
    # Por esto anunciar_llegada.py no usa emit_event(): con el servidor caído,
    # emit_event() deja el evento en una cola, el script sigue y sale con 0
    code = (
        "from prefect.events import emit_event\n"
        "emit_event(event='restaurante.persona.llegada',"
        " resource={'prefect.resource.id': 'restaurante.persona.ana'})\n"
        "print('Llegó Ana')\n"
    )
    result = run_script(
        "-c", code, home=tmp_path, api_url="http://127.0.0.1:9/api", timeout=60
    )
    assert result.returncode == 0
    assert result.stdout == "Llegó Ana\n"
    assert "'EventsWorker' failed with 2 pending items" in result.stderr


@pytest.mark.server
def test_arrivals_in_separate_processes_share_the_tables(module_server):
    names = [f"Seis {i}" for i in range(1, 4)]  # tres grupos para la única mesa de 6
    with serving(module_server, "restaurant/serve_restaurant.py"):
        found = module_server.deployment("atender-persona/llegadas")
        before = len(module_server.deployment_runs(found["id"]))
        for name in names:
            announce(
                module_server,
                "--nombre",
                name,
                "--personas",
                "6",
                "--plato",
                "Limonada",
            )
        runs = eventually(
            lambda: module_server.deployment_runs(found["id"]),
            lambda runs: len(runs) >= before + len(names) and finished(runs),
            what="las corridas de los tres grupos de seis, terminadas",
            timeout=180,
            every=0.5,
        )
    new = [run for run in runs if run["name"] in {f"atender-{n}" for n in names}]
    assert sorted(run["name"] for run in new) == sorted(f"atender-{n}" for n in names)
    assert {run["state_name"] for run in new} == {"Completed"}
    # La mesa de 6 es una sola: un grupo se sienta solo después de que el
    # anterior se despidió
    assert most_at_once(stays_at_table_five(module_server, [r["id"] for r in new])) == 1
