"""El gerente se entera (paso 10): paso10_gerente.py, gerente.py y avisar_al_gerente.py.

Contra un `prefect server start` propio, con un cocinero y el teléfono del
gerente en otros procesos, como en el capítulo 12: un plato que no sale llega
como un aviso, uno solo, con el grupo, la mesa y el plato; un grupo que nadie
sienta a tiempo llega como aviso (proactivo) y uno que se sienta a tiempo no;
sin el teléfono abierto, el aviso se pierde y el restaurante sigue; una
corrida cuyo proceso muere queda Crashed por la automation de los latidos.
"""

import contextlib
import os
import re
import shutil
import signal
import time
from datetime import datetime

import pytest

from gerente import PORT_IN_USE
from herramientas.documentos import readme_lines
from herramientas.procesos import (
    ROOT,
    free_port,
    stop_process,
    wait_for_line,
)
from herramientas.servidor import manager_phone
from tests.helpers import (
    announce,
    eventually,
    occupied_tables,
    open_the_kitchen,
    prefect_cli,
    run_script,
)

SCALE = "0.2"  # las esperas simuladas, a un quinto
SEAT_WAIT = 10  # --espera-mesa de las pruebas: segundos sin mesa antes del aviso


def notices(process) -> list[str]:
    """Los avisos que recibió el gerente, sin la hora."""
    text = process.log_path.read_text(encoding="utf-8")
    return re.findall(r"^\[\d\d:\d\d:\d\d\] (.*)$", text, flags=re.MULTILINE)


@pytest.fixture(scope="module")
def manager(module_server, tmp_path_factory):
    """El servidor del capítulo: límites de la cocina, mesas, el teléfono del
    gerente y sus automations, creadas con el comando del capítulo."""
    open_the_kitchen(module_server)
    port = free_port()
    with contextlib.ExitStack() as stack:
        process = stack.enter_context(
            manager_phone(tmp_path_factory.mktemp("gerente"), port)
        )
        created = run_script(
            "restaurant/avisar_al_gerente.py",
            *("--puerto", str(port), "--espera-mesa", str(SEAT_WAIT)),
            home=module_server.home,
            api_url=module_server.api_url,
        )
        assert created.returncode == 0, created.stdout + created.stderr
        yield {"server": module_server, "phone": process, "port": port, "stack": stack}


def serve(server, nombre: str, *platos: str, personas: int = 2, scale=SCALE):
    """Atender a un grupo con el paso 10, como en el capítulo."""
    args = ["--nombre", nombre, "--personas", str(personas), "--postre", "ninguno"]
    for plato in platos:
        args += ["--plato", plato]
    return run_script(
        "restaurant/paso10_gerente.py",
        *args,
        home=server.home,
        api_url=server.api_url,
        RESTAURANTE_ESCALA_TIEMPO=scale,
    )


def automation_events(server, name: str, kind: str = "prefect.automation.triggered"):
    """Los eventos `kind` de la automation `name`, del más viejo al más nuevo."""
    body = {
        "filter": {
            "event": {"name": [kind]},
            "resource": {"labels": {"prefect.resource.name": [name]}},
        },
        "limit": 50,
    }
    return sorted(
        server.post("/events/filter", body)["events"], key=lambda e: e["occurred"]
    )


def triggered_for(server, name: str, grupo: str) -> list[dict]:
    """Las veces que la automation `name` se disparó por el grupo `grupo`."""
    return [
        event
        for event in automation_events(server, name)
        if event["payload"]["triggering_event"]["payload"].get("grupo") == grupo
    ]


def executed(server, name: str) -> dict[str, dict]:
    """Las acciones que la automation `name` terminó (prefect.automation.action.
    executed), por el id del disparo que las causó."""
    return {
        related["prefect.resource.id"].removeprefix("prefect.event."): event
        for event in automation_events(
            server, name, "prefect.automation.action.executed"
        )
        for related in event["related"]
        if related["prefect.resource.id"].startswith("prefect.event.")
    }


def sent_for(server, name: str, grupo: str, timeout: float = 60) -> list[dict]:
    """Esperar a que cada disparo de `name` por `grupo` haya mandado su aviso
    (el evento prefect.automation.action.executed de ese disparo)."""

    def sent(triggered: list[dict]) -> bool:
        done = executed(server, name)
        return bool(triggered) and all(t["id"] in done for t in triggered)

    return eventually(
        lambda: triggered_for(server, name, grupo),
        sent,
        what=f"que la automation {name} avise por {grupo}",
        timeout=timeout,
    )


def table_of(output: str, nombre: str) -> int:
    (mesa,) = re.findall(rf"Cuenta de {nombre}, mesa (\d+):", output)
    return int(mesa)


# Sin servidor


@pytest.mark.slow
def test_the_phone_says_its_port_is_taken_and_exits(tmp_path):
    port = free_port()
    with manager_phone(tmp_path, port):
        again = run_script(
            "restaurant/gerente.py", "--puerto", str(port), home=tmp_path
        )
    assert again.returncode == 1
    assert again.stderr.strip() == PORT_IN_USE.format(port=port)


@pytest.mark.slow
@pytest.mark.parametrize(
    "script, args, message",
    [
        ("gerente.py", ["--puerto", "0"], "--puerto va de 1 a 65535; llegó 0."),
        (
            "avisar_al_gerente.py",
            ["--puerto", "70000"],
            "--puerto va de 1 a 65535; llegó 70000.",
        ),
        (
            "avisar_al_gerente.py",
            ["--espera-mesa", "9"],
            "--espera-mesa debe ser 10 o más (segundos); llegó 9.",
        ),
    ],
)
def test_bad_ports_and_waits_are_explained(tmp_path, script, args, message):
    result = run_script(f"restaurant/{script}", *args, home=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == message


def test_what_the_chapter_says_of_prefect_settings_and_triggers():
    """Lo que el capítulo cuenta de Prefect 3.9 sin servidor: el plazo mínimo de
    un disparador proactivo, los latidos por defecto y su mínimo, y la
    advertencia del ajuste de reintentos."""
    from datetime import timedelta

    from prefect.events.schemas.automations import EventTrigger, Posture
    from prefect.settings.models.client import ClientSettings
    from prefect.settings.models.flows import FlowsSettings
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="greater than or equal to 10 seconds"):
        EventTrigger(
            after={"a"},
            expect={"b"},
            posture=Posture.Proactive,
            within=timedelta(seconds=9),
        )
    EventTrigger(
        after={"a"},
        expect={"b"},
        posture=Posture.Proactive,
        within=timedelta(seconds=10),
    )
    beats = FlowsSettings.model_fields["heartbeat_frequency"]
    assert beats.default == 180
    with pytest.raises(ValidationError):
        FlowsSettings(heartbeat_frequency=29)
    warning = ClientSettings.model_fields["retry_extra_codes"].description
    assert "not all routes are idempotent and retrying" in " ".join(warning.split())
    assert "may result in unexpected behavior" in " ".join(warning.split())


@pytest.mark.slow
def test_the_automations_need_a_server(tmp_path):
    from cocina_cola import NO_SERVER

    result = run_script("restaurant/avisar_al_gerente.py", home=tmp_path)
    assert result.returncode == 1
    assert NO_SERVER in result.stderr
    assert "Starting temporary server" not in result.stdout + result.stderr


# Contra un `prefect server start` propio


def chapter_notices() -> list[str]:
    """Los avisos que el capítulo muestra en la terminal del gerente."""
    chapter = (ROOT / "capitulos" / "12-el-gerente-se-entera.md").read_text("utf-8")
    return re.findall(r"^\[\d\d:\d\d:\d\d\] (.*)$", chapter, flags=re.MULTILINE)


def chapter_command(start: str, having: str) -> list[str]:
    """Los argumentos del comando del capítulo que empieza con `start` y
    menciona `having` (sin `python`)."""
    # El mismo comando puede estar en dos capítulos (el cocinero sin papas)
    (command,) = {tuple(c) for c in readme_lines(start) if having in c}
    return list(command[1:])


def with_option(args: list[str], option: str, value: str) -> list[str]:
    """El mismo comando con otro valor para `option` (esperas más cortas)."""
    args = list(args)
    args[args.index(option) + 1] = value
    return args


@pytest.mark.server
def test_the_chapter_command_creates_the_automations_once_even_when_run_again(
    manager,
):
    server = manager["server"]
    chapter = (ROOT / "capitulos" / "12-el-gerente-se-entera.md").read_text("utf-8")
    (shown,) = re.findall(
        r"^python restaurant/avisar_al_gerente.py\n```\n\n```text\n(.*?)```",
        chapter,
        flags=re.MULTILINE | re.DOTALL,
    )
    as_in_the_chapter = run_script(
        *chapter_command("python restaurant/avisar_al_gerente.py", "python")[:1],
        home=server.home,
        api_url=server.api_url,
    )
    assert as_in_the_chapter.returncode == 0, as_in_the_chapter.stderr
    assert as_in_the_chapter.stdout == shown
    # Otra vez, con el puerto del teléfono de las pruebas: reemplaza, no repite
    again = run_script(
        "restaurant/avisar_al_gerente.py",
        *("--puerto", str(manager["port"]), "--espera-mesa", str(SEAT_WAIT)),
        home=server.home,
        api_url=server.api_url,
    )
    assert again.returncode == 0, again.stderr
    names = [a["name"] for a in server.post("/automations/filter", {})]
    for name in ("corrida-sin-latidos", "grupo-sin-mesa", "plato-que-no-sale"):
        assert names.count(name) == 1, names  # reemplazadas, no repetidas
    (block,) = server.post(
        "/block_documents/filter",
        {"block_documents": {"name": {"any_": ["telefono-gerente"]}}},
    )
    assert block["data"]["url"] == f"http://127.0.0.1:{manager['port']}/"


@pytest.mark.server
def test_a_dish_that_cannot_be_served_sends_one_notice_with_party_table_and_dish(
    manager,
):
    server = manager["server"]
    beto = chapter_command("python restaurant/cocineros.py ", "--sin-stock")
    ana = chapter_command("python restaurant/paso10_gerente.py ", "Ana")
    with server.cook(*beto[2:], RESTAURANTE_ESCALA_TIEMPO=SCALE):
        result = run_script(
            *ana,
            home=server.home,
            api_url=server.api_url,
            RESTAURANTE_ESCALA_TIEMPO=SCALE,
        )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "Total: $6.50" in output  # la milanesa no se sirve ni se cobra
    # Una vez que el servidor registró que el aviso salió (el teléfono ya
    # respondió), el gerente lo escribió: se cuentan los avisos de Ana
    (triggered,) = sent_for(server, "plato-que-no-sale", "Ana")
    event = triggered["payload"]["triggering_event"]
    assert event["payload"]["plato"] == "Milanesa con papas"
    ana_notices = [n for n in notices(manager["phone"]) if " para Ana " in n]
    assert ana_notices == [n for n in chapter_notices() if " para Ana " in n]
    assert f"(mesa {table_of(output, 'Ana')})" in ana_notices[0]
    # Del evento al aviso: unos segundos (lo que dice el capítulo)
    done = executed(server, "plato-que-no-sale")[triggered["id"]]
    delay = when(done["occurred"]) - when(event["occurred"])
    print(f"Del evento al aviso: {delay:.2f} s")
    assert 0 <= delay < 10


def when(stamp: str) -> float:
    return datetime.fromisoformat(stamp).timestamp()


@pytest.mark.server
def test_a_party_not_seated_in_time_is_reported_and_one_seated_in_time_is_not(
    manager,
):
    server = manager["server"]
    hugo = chapter_command("python restaurant/paso10_gerente.py ", "Hugo")
    iris = chapter_command("python restaurant/paso10_gerente.py ", "Iris")
    with server.cook("Carla", RESTAURANTE_ESCALA_TIEMPO=SCALE):
        # Hugo ocupa la única mesa de 6 mientras espera su postre (aquí, 30 s)
        hugo = server.in_background(
            *with_option(hugo, "--espera-postre", "30"),
            name="hugo",
            RESTAURANTE_ESCALA_TIEMPO=SCALE,
        )
        wait_for_line(hugo, "La corrida queda en pausa")
        iris = server.in_background(*iris, name="iris", RESTAURANTE_ESCALA_TIEMPO=SCALE)
        (triggered,) = sent_for(server, "grupo-sin-mesa", "Iris")
        # Nadie elige el postre de Hugo: se va, e Iris se sienta, come y se va
        assert hugo.wait(timeout=120) == 0, hugo.log_path.read_text("utf-8")
        assert iris.wait(timeout=120) == 0, iris.log_path.read_text("utf-8")
    assert "Hugo se va sin postre" in hugo.log_path.read_text("utf-8")
    waited = iris.log_path.read_text("utf-8")
    assert "todas las mesas para 6 están ocupadas; Iris espera a que se libere una" in (
        waited
    )
    assert "Iris ya está en la mesa 5" in waited
    assert triggered["payload"]["triggering_labels"] == {
        "prefect.resource.id": "restaurante.persona.iris"
    }
    shown = [n for n in chapter_notices() if "Iris" in n]
    assert [n for n in notices(manager["phone"]) if "Iris" in n] == [
        n.replace("hace 60 s", f"hace {SEAT_WAIT} s") for n in shown
    ]
    # Hugo llegó antes que Iris: su plazo venció antes del aviso de Iris, y se
    # había sentado a tiempo
    assert triggered_for(server, "grupo-sin-mesa", "Hugo") == []
    assert not [n for n in notices(manager["phone"]) if "Hugo" in n]


@pytest.mark.server
def test_without_the_phone_the_notice_is_lost_and_the_restaurant_goes_on(manager):
    server = manager["server"]
    stop_process(manager["phone"], signal.SIGINT)  # el gerente cerró su programa
    with server.cook("Beto", "--sin-stock", "papas", RESTAURANTE_ESCALA_TIEMPO=SCALE):
        pia = serve(server, "Pia", "Milanesa con papas", "Limonada")
        assert pia.returncode == 0, pia.stdout + pia.stderr
        assert "Total: $3.75" in pia.stdout
        (lost,) = eventually(
            lambda: triggered_for(server, "plato-que-no-sale", "Pia"),
            lambda events: len(events) == 1,
            what="que la automation se dispare por el plato de Pia",
            timeout=60,
        )
        # El servidor intentó mandarlo, no pudo y lo descartó
        eventually(
            server.output,
            lambda text: (
                "All connection attempts failed" in text
                and "will be moved to the dead letter queue" in text
            ),
            what="que el servidor descarte el aviso que no pudo mandar",
            timeout=60,
        )
        # El gerente vuelve a abrir su programa (queda abierto para las demás)
        again = manager["stack"].enter_context(
            manager_phone(manager["phone"].log_path.parent, manager["port"])
        )
        manager["phone"] = again
        quique = serve(server, "Quique", "Milanesa con papas")
        assert quique.returncode == 0, quique.stdout + quique.stderr
        sent_for(server, "plato-que-no-sale", "Quique")
        got = notices(again)
    # El aviso de Pia no llegó nunca, ni al volver el gerente; el de Quique sí
    assert not any("Pia" in n for n in got), got
    assert any("para Quique " in n for n in got), got
    assert lost["id"] not in executed(server, "plato-que-no-sale")


@pytest.mark.server
@pytest.mark.browser
def test_the_automations_page_lists_the_three_automations_of_the_manager(page, manager):
    page.goto(f"{manager['server'].url}/v2/automations")
    page.wait_for_load_state("networkidle")
    for name in ("plato-que-no-sale", "grupo-sin-mesa", "corrida-sin-latidos"):
        page.get_by_text(name, exact=True).first.wait_for(timeout=30_000)
    # Y se pueden crear desde la UI, con formularios
    create = page.locator("a[href*='/automations/create']")
    create.first.wait_for(timeout=30_000)


@pytest.mark.server
@pytest.mark.browser
def test_a_run_whose_process_died_is_marked_crashed_by_its_missing_heartbeats(
    manager, page
):
    server = manager["server"]
    lalo = chapter_command("python restaurant/cocineros.py ", "Lalo")
    zoe = chapter_command("python restaurant/paso10_gerente.py ", "Zoe")
    # Con Lalo (lento) y el tiempo de verdad, Zoe sigue en la mesa al cortarla
    with server.cook(*lalo[2:], RESTAURANTE_ESCALA_TIEMPO="1"):
        zoe = server.in_background(*zoe, name="zoe", RESTAURANTE_ESCALA_TIEMPO="1")
        output = wait_for_line(zoe, "Zoe ya está en la mesa")
        assert "Zoe ya está en la mesa 3" in output  # la que dice el capítulo
        killed = time.time()
        os.killpg(zoe.pid, signal.SIGKILL)  # el pkill -9 del capítulo
        zoe.wait(timeout=30)
        eventually(
            lambda: server.get("/v2/concurrency_limits/mesa-3")["active_slots"],
            lambda slots: slots == 0,
            what="que la mesa 3 de Zoe vuelva a estar libre",
            timeout=150,
        )
        table_free = time.time() - killed
        eventually(
            lambda: zoe_run(server)["state_name"],
            lambda state: state == "Crashed",
            what="que la corrida de Zoe quede Crashed",
            timeout=200,
        )
    run = zoe_run(server)
    assert run["state"]["message"] == (
        "Sin latidos en 90 s: el proceso de la corrida murió "
        "(automation corrida-sin-latidos)."
    )
    crashed = when(run["state"]["timestamp"])
    last_beat = heartbeats(server, run["id"])[-1]
    print(
        f"Mesa libre {table_free:.0f} s después del corte; Crashed "
        f"{crashed - killed:.0f} s después del corte y {crashed - last_beat:.0f} s "
        "después del último latido"
    )
    # Lo que dice el capítulo: la mesa, con el lease (60 s desde la última
    # renovación, cada 20 s); Crashed, 90 s después del último latido, más lo
    # que tarda el servidor en revisar
    assert 35 <= table_free <= 75
    assert 90 <= crashed - last_beat <= 90 + 20
    assert killed - last_beat <= 30 + 2
    # En la UI, la corrida en Crashed con el mensaje de la automation, en Details
    page.goto(f"{server.url}/v2/runs/flow-run/{run['id']}")
    page.get_by_role("tab", name="Details").click()
    page.get_by_text("State Message").wait_for(timeout=30_000)
    page.get_by_text(run["state"]["message"]).wait_for(timeout=30_000)
    sent = eventually(
        lambda: notices(manager["phone"]),
        lambda got: any("atender-Zoe" in n for n in got),
        what="el aviso de la corrida cortada de Zoe",
        timeout=60,
    )
    assert [n for n in sent if "atender-Zoe" in n] == [
        "Una corrida se cortó: atender-Zoe no da latidos hace 90 s: quedó Crashed."
    ]


def zoe_run(server) -> dict:
    (run,) = [
        r for r in server.flow_runs("atender-persona") if r["name"] == "atender-Zoe"
    ]
    return run


@pytest.mark.server
def test_exercise_8_two_dishes_missing_for_one_party_ask_to_check_the_kitchen(
    manager, tmp_path
):
    server = manager["server"]
    lesson = tmp_path / "restaurant"
    shutil.copytree(ROOT / "restaurant", lesson)
    shutil.copy(ROOT / "soluciones" / "avisar_al_gerente.py", lesson)
    solved = run_script(
        str(lesson / "avisar_al_gerente.py"),
        *("--puerto", str(manager["port"]), "--espera-mesa", str(SEAT_WAIT)),
        home=server.home,
        api_url=server.api_url,
    )
    try:
        assert solved.returncode == 0, solved.stderr
        assert "Automation revisar-la-cocina creada." in solved.stdout
        with server.cook(
            "Beto", "--sin-stock", "papas", RESTAURANTE_ESCALA_TIEMPO=SCALE
        ):
            sol = serve(server, "Sol", "Milanesa con papas", "Limonada")
            rita = serve(server, "Rita", "Milanesa con papas", "Milanesa con papas")
        assert sol.returncode == 0 and rita.returncode == 0, sol.stderr + rita.stderr
        sent_for(server, "revisar-la-cocina", "Rita")
        # A Sol le faltó un plato solo: sus eventos llegaron antes que los de Rita
        sent_for(server, "plato-que-no-sale", "Sol")
        assert triggered_for(server, "revisar-la-cocina", "Sol") == []
        got = notices(manager["phone"])
        assert [n for n in got if n.startswith("Revisar la cocina")] == [
            "Revisar la cocina: a Rita no le salieron dos platos."
        ]
    finally:  # las demás pruebas cuentan tres automations
        prefect_cli(server, "--no-prompt", "automation", "delete", "revisar-la-cocina")


def heartbeats(server, run_id: str) -> list[float]:
    """Cuándo dio sus latidos la corrida `run_id`, del primero al último."""
    body = {
        "filter": {
            "event": {"name": ["prefect.flow-run.heartbeat"]},
            "resource": {"id": [f"prefect.flow-run.{run_id}"]},
        }
    }
    return sorted(
        when(e["occurred"]) for e in server.post("/events/filter", body)["events"]
    )


@pytest.mark.server
def test_a_served_party_whose_serve_died_with_it_is_marked_crashed(manager):
    server = manager["server"]
    # El deployment del capítulo 8: Gael espera su postre (en pausa) cuando se
    # mueren a la vez `serve` y su corrida
    with server.serving(
        "restaurant/serve_restaurant.py",
        *("--espera-postre", "600"),
        RESTAURANTE_ESCALA_TIEMPO="0.2",
    ) as process:
        announce(server, "--nombre", "Gael", "--postre", "preguntar")
        (paused,) = eventually(
            lambda: [
                r
                for r in server.flow_runs("atender-persona")
                if r["name"] == "atender-Gael"
            ],
            lambda runs: len(runs) == 1 and runs[0]["state_name"] == "Paused",
            what="la corrida de Gael en pausa, esperando su postre",
            timeout=120,
        )
        # La corrida que lanza serve también late cada 30 s (el prefect.toml del
        # repositorio vale para ella): dos latidos, y en pausa sigue latiendo
        beats = eventually(
            lambda: heartbeats(server, paused["id"]),
            lambda beats: len(beats) >= 2,
            what="dos latidos de la corrida de Gael",
            timeout=90,
        )
        assert 25 <= beats[1] - beats[0] <= 40, beats
        os.killpg(process.pid, signal.SIGKILL)  # serve y la corrida, a la vez
        killed = time.time()
        run = eventually(
            lambda: server.get(f"/flow_runs/{paused['id']}"),
            lambda run: run["state_name"] == "Crashed",
            what="que la corrida de Gael (en pausa) quede Crashed",
            timeout=200,
        )
    last_beat = heartbeats(server, paused["id"])[-1]
    crashed = when(run["state"]["timestamp"])
    print(
        f"Gael: Crashed {crashed - killed:.0f} s después del corte y "
        f"{crashed - last_beat:.0f} s después del último latido"
    )
    assert 90 <= crashed - last_beat <= 90 + 20
    assert "automation corrida-sin-latidos" in run["state"]["message"]
    eventually(
        lambda: occupied_tables(server),
        lambda busy: f"mesa-{paused['labels']['restaurante.mesa']}" not in busy,
        what="la mesa de Gael libre",
        timeout=90,
    )
