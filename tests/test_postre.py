"""Pruebas del postre y de los hooks de estado del restaurante.

El postre: el formulario (`Postre`) y sus mensajes, el postre elegido de
antemano, y contra `prefect server start` con `serve_restaurant.py`: la corrida
en pausa que se reanuda con `resume_flow_run`, que rechaza un plato principal,
que vence sin respuesta, y que se llena en la UI con Chromium. Los hooks: la mesa
de una corrida cancelada, la de una corrida cuyo proceso muere con SIGKILL, y la
de una corrida que se queda sin nadie (serve muerto), que libera el lease.
"""

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
from datetime import datetime
from uuid import UUID

import httpx
import pandas as pd
import psutil
import pytest
from prefect import get_client
from prefect.client.schemas.filters import (
    FlowRunFilter,
    FlowRunFilterName,
    LogFilter,
    LogFilterFlowRunId,
)
from prefect.flow_runs import resume_flow_run
from prefect.settings import PREFECT_API_URL, get_current_settings, temporary_settings
from pydantic import ValidationError

import run_restaurant as r
from cocina import Cocina
from cuenta import add_to_order
from grupo import describe
from herramientas import navegador
from herramientas.documentos import docs_text
from herramientas.servidor import PrefectServer, free_port
from menu import MENU, money
from mesas import RENEW_SECONDS, TABLE_LEASE_SECONDS
from postre import (
    DESSERT_WAIT_SECONDS,
    DESSERTS,
    NO_DESSERT,
    Postre,
    dessert_choice,
    wait_seconds,
)
from tests.helpers import (
    ROOT,
    announce,
    eventually,
    occupied_tables,
    prefect_cli,
    run_script,
)

NO_BURNS = Cocina(prob_quemar=0)
# Lo que cada grupo espera su postre en las pruebas de punta a punta: lo
# bastante para que Chromium llene el formulario, poco para la prueba que vence
WAIT = 30
# Cada cuánto revisan los leases vencidos los servidores de las pruebas (1 s; el
# de quien aprende, 15 s: ver conftest.py)
REPOSSESSOR_SECONDS = get_current_settings().server.services.repossessor.loop_seconds

# ---------------------------------------------------------------------------
# Nivel rápido: el formulario y sus reglas, sin servidor
# ---------------------------------------------------------------------------


def test_the_desserts_are_the_menu_dishes_of_type_postre():
    assert DESSERTS == list(MENU.index[MENU["tipo"] == "postre"])
    assert DESSERTS == ["Flan con dulce de leche", "Helado de chocolate"]


def test_form_accepts_a_dessert_or_none_in_any_case():
    assert Postre(postre=" helado DE chocolate ").postre == "Helado de chocolate"
    assert Postre(postre="Ninguno").postre == NO_DESSERT
    assert Postre().postre == NO_DESSERT  # sin respuesta, sin postre


@pytest.mark.parametrize(
    "value, message",
    [
        (
            "Milanesa con papas",
            "Milanesa con papas no es un postre (es principal). Se puede elegir "
            "Flan con dulce de leche, Helado de chocolate o 'ninguno'.",
        ),
        ("limonada", "Limonada no es un postre (es bebida)."),
        ("Tiramisú", "No está en el menú: 'Tiramisú'."),
        ("", "No está en el menú: ''."),
        (2, "El postre es un nombre; llegó 2."),
    ],
)
def test_form_refuses_anything_else_in_spanish(value, message):
    with pytest.raises(ValidationError) as error:
        Postre(postre=value)
    assert message in describe(error.value)


def test_form_schema_gives_the_ui_the_choices_and_their_prices():
    field = Postre.model_json_schema()["properties"]["postre"]
    # La UI muestra un desplegable con estas opciones; el servidor no acepta otra
    assert field["enum"] == [*DESSERTS, NO_DESSERT]
    assert field["default"] == NO_DESSERT
    assert "Flan con dulce de leche ($5.50)" in field["description"]
    assert "Helado de chocolate ($4.25)" in field["description"]


def test_flow_parameters_for_the_dessert_are_checked_in_spanish():
    assert dessert_choice("PREGUNTAR") == "preguntar"
    assert dessert_choice("flan con dulce de leche") == "Flan con dulce de leche"
    with pytest.raises(ValueError, match="o 'preguntar' para elegirlo en la UI"):
        dessert_choice("Ravioles")
    assert wait_seconds(1) == 1
    with pytest.raises(ValueError, match="va de 1 a 3600 segundos"):
        wait_seconds(0)
    with pytest.raises(ValueError, match="número entero de segundos"):
        wait_seconds("10")


def test_the_dessert_joins_the_order_once_at_its_menu_price():
    pedido = pd.DataFrame(
        {"plato": ["Empanadas"], "cantidad": [1], "precio_centavos": [650]}
    )
    with_flan = add_to_order(pedido, "Flan con dulce de leche")
    assert with_flan["plato"].tolist() == ["Empanadas", "Flan con dulce de leche"]
    assert with_flan["precio_centavos"].tolist() == [650, 550]
    assert add_to_order(with_flan, "Flan con dulce de leche").equals(with_flan)


def test_asking_needs_a_server_with_a_ui(tmp_path):
    result = run_script(
        "restaurant/run_restaurant.py", "--postre", "preguntar", home=tmp_path
    )
    assert result.returncode == 2
    assert "el servidor temporal de Prefect no tiene UI" in result.stderr
    assert not (tmp_path / "prefect.db").exists()  # no empezó a atender


def test_scripts_refuse_a_bad_dessert_before_doing_anything(capsys):
    import anunciar_llegada
    import paso6_postre

    for main in (paso6_postre.main, r.main, anunciar_llegada.main):
        assert main(["--postre", "Ravioles"]) == 2, main.__module__
        shown = capsys.readouterr()
        assert "Ravioles no es un postre (es principal)" in shown.err, main.__module__
        assert shown.out == ""
    # El capítulo muestra la salida de paso6_postre.py, tal cual
    readme = docs_text()
    block = readme.split("$ python restaurant/paso6_postre.py --postre Ravioles\n")[1]
    assert paso6_postre.main(["--postre", "Ravioles"]) == 2
    assert capsys.readouterr().err == block.split("```")[0]
    assert r.main(["--espera-postre", "0"]) == 2
    assert "La espera del postre va de 1 a 3600 segundos" in capsys.readouterr().err


# ---------------------------------------------------------------------------
# Integración: el servidor de pruebas de la sesión, sin pausa
# ---------------------------------------------------------------------------


@pytest.mark.harness
@pytest.mark.slow
def test_dessert_chosen_in_advance_is_cooked_brought_and_billed(restaurant, no_waits):
    grupo = {"nombre": "Ana", "personas": 2, "pedido": ["Ravioles"]}
    state = asyncio.run(
        r.serve_party(grupo, NO_BURNS, "helado de chocolate", return_state=True)
    )
    result = asyncio.run(state.aresult())
    assert result["servidos"] == ["Ravioles", "Helado de chocolate"]
    assert result["total_centavos"] == 1200 + 425
    assert result["cuenta"]["plato"].tolist() == ["Ravioles", "Helado de chocolate"]


@pytest.mark.harness
@pytest.mark.slow
def test_a_burned_dessert_is_not_billed_and_the_waiter_is_told(
    restaurant, no_waits, prefect_client
):
    grupo = {"nombre": "Bea", "personas": 2, "pedido": ["Limonada"]}
    burn_all = Cocina(prob_quemar=1)
    state = asyncio.run(
        r.serve_party(grupo, burn_all, "Flan con dulce de leche", return_state=True)
    )
    result = asyncio.run(state.aresult())
    assert result["servidos"] == []
    assert result["no_servidos"] == ["Limonada", "Flan con dulce de leche"]
    assert result["total_centavos"] == 0
    # El hook on_failure de preparar-plato avisó por cada plato, en su corrida
    dishes = prefect_client.read_flow_runs(
        flow_run_filter=FlowRunFilter(name=FlowRunFilterName(like_="preparar-Bea-"))
    )
    failed = {run.id: run.parameters["plato"] for run in dishes}
    assert sorted(failed.values()) == ["Flan con dulce de leche", "Limonada"]
    logs = eventually(
        lambda: prefect_client.read_logs(
            log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=list(failed)))
        ),
        lambda logs: sum("Aviso al mozo" in log.message for log in logs) == 2,
        what="los dos avisos al mozo (on_failure de preparar-plato)",
    )
    warned = sorted(log.message for log in logs if "Aviso al mozo" in log.message)
    assert warned == [
        "Aviso al mozo: Flan con dulce de leche no sale de la cocina. Se quemó "
        "Flan con dulce de leche (intento 6). No se sirve ni se cobra.",
        "Aviso al mozo: Limonada no sale de la cocina. Se quemó Limonada "
        "(intento 6). No se sirve ni se cobra.",
    ]
    assert all(log.level == 40 for log in logs if "Aviso al mozo" in log.message)


@pytest.mark.harness
def test_a_table_lease_is_as_short_as_the_server_allows(restaurant):
    # El README: un minuto es lo más corto que admite el servidor, al pedir la
    # mesa y al renovarla; y `prefect server start` revisa los vencidos cada 15 s
    async def lease_for(client, seconds: float):
        return await client.increment_concurrency_slots_with_lease(
            names=["mesa-1"], slots=1, mode="concurrency", lease_duration=seconds
        )

    async def check() -> None:
        async with get_client() as client:
            with pytest.raises(httpx.HTTPStatusError) as refused:
                await lease_for(client, TABLE_LEASE_SECONDS - 1)
            assert refused.value.response.status_code == 422
            lease = UUID(
                (await lease_for(client, TABLE_LEASE_SECONDS)).json()["lease_id"]
            )
            try:
                with pytest.raises(httpx.HTTPStatusError) as refused:
                    await client.renew_concurrency_lease(lease, TABLE_LEASE_SECONDS - 1)
                assert refused.value.response.status_code == 422
            finally:
                await client.release_concurrency_slots_with_lease(lease)

    assert TABLE_LEASE_SECONDS == 60
    asyncio.run(check())
    # Y lo que `prefect server start` hace por defecto (las pruebas lo acortan)
    from prefect.settings.models.server.services import (
        ServerServicesRepossessorSettings,
    )

    assert ServerServicesRepossessorSettings.model_fields["loop_seconds"].default == 15


# ---------------------------------------------------------------------------
# De punta a punta: prefect server start y serve_restaurant.py
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """Un `prefect server start` con serve_restaurant.py sirviendo las llegadas."""
    home = tmp_path_factory.mktemp("postre")
    with PrefectServer(home, free_port()) as server:
        with server.serving(
            "restaurant/serve_restaurant.py",
            *("--espera-postre", str(WAIT)),
            RESTAURANTE_ESCALA_TIEMPO="0.2",
        ) as process:
            server.serve_process = process
            yield server


def party_run(server, nombre: str, *states: str, timeout: float = 120) -> dict:
    """La corrida de `nombre`, cuando llega a uno de `states`."""
    runs = eventually(
        lambda: [
            run
            for run in server.flow_runs("atender-persona")
            if run["name"] == f"atender-{nombre}"
        ],
        lambda runs: len(runs) == 1 and runs[0]["state_name"] in states,
        what=f"la corrida atender-{nombre} en {' o '.join(states)}",
        timeout=timeout,
        every=0.2,
    )
    return runs[0]


def serve_log(server) -> str:
    """Lo que serve_restaurant.py escribió en su terminal, en una línea."""
    return " ".join((server.home / "serve_restaurant.log").read_text().split())


def seconds_until_free(server, table: str, since: float, timeout: float) -> float:
    eventually(
        lambda: occupied_tables(server),
        lambda busy: table not in busy,
        what=f"que {table} quede libre",
        timeout=timeout,
    )
    return time.monotonic() - since


def bill_of(server, run_id: str) -> list[dict]:
    (artifact,) = server.post(
        "/artifacts/filter",
        {"artifacts": {"key": {"any_": ["cuenta"]}, "flow_run_id": {"any_": [run_id]}}},
    )
    return json.loads(artifact["data"])


def messages(server, run_id: str, wanted: str) -> list[dict]:
    """Los logs de la corrida; espera a que llegue uno que contenga `wanted`."""
    return eventually(
        lambda: server.post(
            "/logs/filter", {"logs": {"flow_run_id": {"any_": [run_id]}}}
        ),
        lambda logs: any(wanted in log["message"] for log in logs),
        what=f"un log de {run_id} que diga {wanted!r}",
    )


def states_of(server, run_id: str) -> list[dict]:
    states = server.get(f"/flow_run_states/?flow_run_id={run_id}")
    return sorted(states, key=lambda state: state["timestamp"])


def dessert_runs(server, nombre: str) -> list[dict]:
    return [
        run
        for run in server.flow_runs("preparar-plato")
        if run["name"].startswith(f"preparar-{nombre}-")
    ]


def total(*platos: str) -> str:
    return money(sum(int(MENU.loc[plato, "precio_centavos"]) for plato in platos))


def question_of(server, paused: dict) -> str | None:
    """La pregunta que la corrida en pausa guardó para el formulario de la UI
    (None si todavía no la guardó)."""
    keyset = paused["state"]["state_details"]["run_input_keyset"]
    try:
        return server.get(f"/flow_runs/{paused['id']}/input/{keyset['description']}")
    except urllib.error.HTTPError as error:
        if error.code == 404:
            return None
        raise


def asked_for_dessert(server, nombre: str) -> dict:
    """La corrida de `nombre` en pausa, cuando ya guardó su formulario.

    Prefect pone la corrida en Paused y después guarda el esquema del formulario
    y la pregunta: responder antes sería responder sin esquema que la valide.
    """
    paused = party_run(server, nombre, "Paused")
    eventually(
        lambda: question_of(server, paused),
        lambda question: question is not None,
        what=f"la pregunta del postre de {nombre}, guardada",
    )
    return paused


def resume(server, run_id: str, postre: str) -> None:
    with temporary_settings({PREFECT_API_URL: server.api_url}):
        resume_flow_run(run_id, run_input={"postre": postre})


@pytest.mark.server
def test_paused_party_refuses_a_main_course_and_takes_the_chosen_dessert(served):
    announce(served, "--nombre", "Ana", "--postre", "preguntar")
    paused = asked_for_dessert(served, "Ana")
    mesa = paused["labels"]["restaurante.mesa"]
    assert question_of(served, paused).startswith(
        f"**¿Postre para Ana, en la mesa {mesa}?**"
    )

    # El servidor compara la respuesta con el esquema del formulario
    with pytest.raises(RuntimeError, match="'Milanesa con papas' is not one of"):
        resume(served, paused["id"], "Milanesa con papas")
    assert served.get(f"/flow_runs/{paused['id']}")["state_name"] == "Paused"

    resume(served, paused["id"], "Flan con dulce de leche")
    done = party_run(served, "Ana", "Completed")
    assert "Postre elegido: Flan con dulce de leche." in [
        log["message"] for log in messages(served, done["id"], "Postre elegido")
    ]
    (dessert,) = [run for run in dessert_runs(served, "Ana") if "Flan" in run["name"]]
    assert dessert["name"] == "preparar-Ana-4-Flan con dulce de leche"
    assert dessert["state_name"] == "Completed"
    parent = served.get(f"/task_runs/{dessert['parent_task_run_id']}")
    assert parent["flow_run_id"] == done["id"]  # un subflow de la corrida de Ana
    rows = bill_of(served, done["id"])
    assert rows[-2] == {
        "plato": "Flan con dulce de leche",
        "cantidad": 1,
        "precio": "$5.50",
        "subtotal": "$5.50",
    }
    order = ["Empanadas", "Milanesa con papas", "Limonada", "Flan con dulce de leche"]
    assert rows[-1]["subtotal"] == total(*order) == "$30.65"
    assert not occupied_tables(served)


@pytest.mark.server
def test_unanswered_party_leaves_without_dessert_when_the_wait_ends(served):
    announce(
        served,
        *("--nombre", "Bruno", "--personas", "2", "--plato", "Ravioles"),
        *("--postre", "preguntar"),
    )
    party_run(served, "Bruno", "Paused")
    done = party_run(served, "Bruno", "Completed", timeout=WAIT + 60)
    # En pausa exactamente lo que dice --espera-postre, y sigue sola
    kinds = [(s["type"], s["timestamp"]) for s in states_of(served, done["id"])]
    paused_at = next(stamp for kind, stamp in kinds if kind == "PAUSED")
    resumed_at = next(
        stamp for kind, stamp in kinds if kind == "RUNNING" and stamp > paused_at
    )
    waited = (
        datetime.fromisoformat(resumed_at) - datetime.fromisoformat(paused_at)
    ).total_seconds()
    print(f"En pausa {waited:.1f} s con --espera-postre {WAIT}")
    # No antes del plazo (que empieza un instante antes de que el servidor
    # registre la pausa), y antes del timeout de pause_flow_run (el plazo más
    # 60 s): la reanudó NobodyAnswers, no el timeout
    assert WAIT - 1 <= waited < WAIT + 60
    logs = messages(served, done["id"], "Nadie eligió postre")
    (warning,) = [log for log in logs if "Nadie eligió postre" in log["message"]]
    assert warning["message"] == (
        f"Nadie eligió postre en {WAIT} s: Bruno se va sin postre y no se le cobra."
    )
    assert warning["level"] == 30
    assert [run["name"] for run in dessert_runs(served, "Bruno")] == [
        "preparar-Bruno-1-Ravioles"
    ]
    assert [row["plato"] for row in bill_of(served, done["id"])] == [
        "Ravioles",
        "Total",
    ]
    assert not occupied_tables(served)


@pytest.mark.server
def test_dessert_chosen_at_the_door_never_pauses(served):
    announce(
        served,
        *("--nombre", "Carla", "--personas", "4", "--plato", "Empanadas"),
        *("--postre", "helado de chocolate"),
    )
    done = party_run(served, "Carla", "Completed")
    # El script manda el nombre del menú, con sus mayúsculas
    assert done["parameters"]["postre"] == "Helado de chocolate"
    assert "PAUSED" not in [s["type"] for s in states_of(served, done["id"])]
    rows = bill_of(served, done["id"])
    assert [row["plato"] for row in rows] == [
        "Empanadas",
        "Helado de chocolate",
        "Total",
    ]
    assert rows[-1]["subtotal"] == total("Empanadas", "Helado de chocolate")


@pytest.mark.server
def test_event_without_a_dessert_asks_for_it(served):
    # Como `prefect event emit` sin la clave postre: default('preguntar')
    grupo = {"nombre": "Ines", "personas": 2, "pedido": ["Limonada"]}
    emitted = prefect_cli(
        served,
        *("event", "emit", "restaurante.persona.llegada"),
        *("--resource-id", "restaurante.persona.ines"),
        *("--payload", json.dumps({"grupo": grupo})),
    )
    assert emitted.returncode == 0, emitted.stderr
    paused = asked_for_dessert(served, "Ines")
    assert paused["parameters"]["postre"] == "preguntar"
    resume(served, paused["id"], "ninguno")
    done = party_run(served, "Ines", "Completed")
    assert [row["plato"] for row in bill_of(served, done["id"])] == [
        "Limonada",
        "Total",
    ]


@pytest.mark.server
def test_readme_command_waits_in_the_terminal_for_the_dessert(served):
    # python restaurant/run_restaurant.py --postre preguntar, con PREFECT_API_URL
    env = served.env(PREFECT_API_URL=served.api_url, RESTAURANTE_ESCALA_TIEMPO="0.2")
    script = subprocess.Popen(
        [sys.executable, "restaurant/run_restaurant.py", "--nombre", "Hugo"]
        + ["--postre", "preguntar"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        paused = asked_for_dessert(served, "Hugo")
        assert script.poll() is None  # la terminal espera
        resume(served, paused["id"], "Flan con dulce de leche")
        output, _ = script.communicate(timeout=120)
    finally:
        if script.poll() is None:
            script.kill()
    assert script.returncode == 0, output
    assert (
        f"¿Postre? La corrida queda en pausa hasta {DESSERT_WAIT_SECONDS} s: "
        "elige en la UI." in output
    )
    assert "Postre elegido: Flan con dulce de leche." in output
    bill = output.split("Cuenta de Hugo")[1]
    assert "Flan con dulce de leche" in bill
    order = ["Empanadas", "Milanesa con papas", "Limonada", "Flan con dulce de leche"]
    assert f"Total: {total(*order)}" in bill


def spawned(serve_process) -> set[int]:
    """Los procesos que `serve` lanzó para sus corridas (uno por corrida)."""
    return {
        child.pid
        for child in psutil.Process(serve_process.pid).children()
        if "spawn_main" in " ".join(child.cmdline())
    }


@pytest.mark.server
def test_killed_run_process_frees_its_table_through_the_crashed_hook(served):
    before = spawned(served.serve_process)
    announce(
        served,
        *("--nombre", "Diego", "--personas", "6", "--plato", "Ravioles"),
        *("--postre", "preguntar"),
    )
    paused = party_run(served, "Diego", "Paused")
    table = f"mesa-{paused['labels']['restaurante.mesa']}"
    assert table in occupied_tables(served)
    (run_process,) = spawned(served.serve_process) - before  # el de Diego
    os.kill(run_process, signal.SIGKILL)
    killed = time.monotonic()
    freed = seconds_until_free(served, table, killed, timeout=60)
    print(f"SIGKILL del proceso de la corrida: {table} libre en {freed:.1f} s")
    # Antes de que el lease pudiera vencer (renovado hasta RENEW_SECONDS antes
    # del SIGKILL): la liberó el hook, no el servidor
    assert freed < TABLE_LEASE_SECONDS - RENEW_SECONDS
    crashed = party_run(served, "Diego", "Crashed")
    assert "SIGKILL" in crashed["state"]["message"]
    log = serve_log(served)
    assert (
        "Running hook 'release_table_hook' in response to entering state 'Crashed'"
        in log
    )
    assert f"Mesa {table[5:]} libre: la corrida terminó en Crashed." in log


@pytest.mark.server
def test_cancelled_party_frees_its_table_at_once(served):
    announce(served, "--nombre", "Elena", "--personas", "1", "--postre", "preguntar")
    paused = party_run(served, "Elena", "Paused")
    table = f"mesa-{paused['labels']['restaurante.mesa']}"
    start = time.monotonic()
    result = prefect_cli(served, "flow-run", "cancel", paused["id"])
    assert result.returncode == 0, result.stderr
    freed = seconds_until_free(served, table, start, timeout=60)
    print(f"prefect flow-run cancel: {table} libre en {freed:.1f} s")
    assert freed < TABLE_LEASE_SECONDS - RENEW_SECONDS  # no por el lease
    party_run(served, "Elena", "Cancelled", timeout=60)
    # La liberó el finally del flow, que corre al cancelar...
    freed_by = f"Mesa {table[5:]} libre."
    logs = messages(served, paused["id"], freed_by)
    assert freed_by in [log["message"] for log in logs]
    # ...y después el hook, en serve, la encontró libre
    log = serve_log(served)
    assert (
        "Running hook 'release_table_hook' in response to entering state "
        "'Cancelling'" in log
    )
    assert "Corrida en Cancelling: no tenía mesa que liberar." in log


@pytest.mark.server
@pytest.mark.browser
def test_paused_party_is_resumed_from_the_ui_form(served, page):
    # Una corrida del deployment con sus propios parámetros: 10 minutos para
    # responder, para que Chromium no compita con el plazo
    grupo = {"nombre": "Fede", "personas": 2, "pedido": ["Ravioles"]}
    params = {"grupo": grupo, "postre": "preguntar", "espera_postre": 600}
    started = prefect_cli(
        served,
        *("deployment", "run", "atender-persona/llegadas"),
        *("--params", json.dumps(params)),
    )
    assert started.returncode == 0, started.stderr
    paused = asked_for_dessert(served, "Fede")
    assert "Si nadie responde en 600 s" in question_of(served, paused)
    navegador.choose_dessert(page, served, paused, "Helado de chocolate")
    done = party_run(served, "Fede", "Completed")
    rows = bill_of(served, done["id"])
    assert rows[-2]["plato"] == "Helado de chocolate"
    assert "Postre elegido: Helado de chocolate." in [
        log["message"] for log in messages(served, done["id"], "Postre elegido")
    ]


@pytest.mark.server
def test_dead_serve_leaves_the_table_until_its_renewed_lease_expires(tmp_path):
    with PrefectServer(tmp_path, free_port()) as server:
        with server.serving(
            "restaurant/serve_restaurant.py",
            *("--espera-postre", "600"),
            RESTAURANTE_ESCALA_TIEMPO="0.2",
        ) as process:
            announce(server, "--nombre", "Gael", "--postre", "preguntar")
            paused = party_run(server, "Gael", "Paused")
            table = f"mesa-{paused['labels']['restaurante.mesa']}"
            # Más que un lease entero sentado: sin renovarlo, el servidor ya la
            # habría liberado. Se mira todo ese tiempo porque una renovación no
            # deja señal (ni evento, ni log, ni una API que lea cuándo vence)
            seated_until = (
                time.monotonic() + TABLE_LEASE_SECONDS + 2 * REPOSSESSOR_SECONDS
            )
            while time.monotonic() < seated_until:
                assert table in occupied_tables(server), "el lease no se renovó"
                time.sleep(1)
            # Se muere todo: serve y la corrida (Ctrl+C a la terminal no, SIGKILL)
            os.killpg(process.pid, signal.SIGKILL)
            killed = time.monotonic()
            freed = seconds_until_free(
                server, table, killed, timeout=TABLE_LEASE_SECONDS + 60
            )
            # Nadie queda para decir que la corrida se cortó: sigue en Paused
            assert server.get(f"/flow_runs/{paused['id']}")["state_name"] == "Paused"
    print(f"serve y la corrida muertos: {table} libre en {freed:.1f} s")
    # Lo que dice el README: la libera el servidor al vencer el lease, que se
    # renovó hasta RENEW_SECONDS antes (con la revisión de cada 15 s de un
    # `prefect server start` sin tocar, a lo sumo 15 s después)
    assert TABLE_LEASE_SECONDS - RENEW_SECONDS - 5 < freed <= TABLE_LEASE_SECONDS + 15
