"""El restaurante, paso 8 (restaurant/paso8_cobro.py): el cobro como transacción.

Las piezas (la caja, la impresora, las comandas) se prueban solas; el cobro
entero, contra el servidor de pruebas: una comanda se cobra una sola vez, una
impresora trabada anula la reserva, un proceso muerto entre la reserva y el
ticket no cobra dos veces al volver, y otro proceso lee la cuenta guardada.
"""

import asyncio
import contextvars
import os
import shlex
import signal
import subprocess
import sys
import threading
import time

import pytest

import caja
import cuenta_guardada
import paso8_cobro as paso8
from cobro import JAM_VARIABLE, BadVariable, bills, check_comanda, jam_rate
from cocina import Cocina
from tests.helpers import (
    ROOT,
    flush_logs,
    migrated_home,
    occupied_tables,
    prefect_cli,
    run_script,
)

ANA = {"nombre": "Ana", "personas": 3, "pedido": ["Empanadas", "Limonada"]}
ANA_CENTAVOS = 650 + 375


@pytest.fixture
def own_home(tmp_path, monkeypatch):
    """Una carpeta de Prefect propia: la caja y las cuentas de esta prueba."""
    from prefect.settings import PREFECT_HOME, temporary_settings

    with temporary_settings({PREFECT_HOME: tmp_path}):
        monkeypatch.setenv("PREFECT_HOME", str(tmp_path))
        yield tmp_path


def states(comanda: str) -> list[str]:
    return [cobro["estado"] for cobro in caja.charges(comanda)]


def test_the_same_comanda_is_reserved_once_until_it_is_voided(own_home):
    first = caja.reserve("17", 3, 2515)
    again = caja.reserve("17", 3, 9999)  # la misma comanda: la misma reserva
    assert again == first and again["centavos"] == 2515
    assert caja.void("17") == 1
    assert caja.void("17") == 0  # no queda nada vigente que anular
    caja.reserve("17", 3, 2515)  # después de anulada, se puede reservar otra vez
    assert caja.close("17")["estado"] == caja.CHARGED
    assert states("17") == [caja.VOIDED, caja.CHARGED]
    with pytest.raises(caja.NotReserved, match="La comanda 18 no tiene un monto"):
        caja.close("18")


def test_eight_waiters_reserving_the_same_comanda_at_once_get_one_reservation(
    own_home,
):
    barrier = threading.Barrier(8)

    def reserve() -> None:
        barrier.wait()
        caja.reserve("doble", 1, 100)

    # Cada hilo con la carpeta de Prefect de la prueba (un contexto copiado)
    threads = [
        threading.Thread(target=contextvars.copy_context().run, args=(reserve,))
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert states("doble") == [caja.RESERVED]


def test_the_printer_jams_at_the_rate_and_the_same_way_for_the_same_comanda():
    jams = [caja.jams(0.3, f"c{i}", 1) for i in range(2000)]
    assert 0.25 < sum(jams) / len(jams) < 0.35
    assert jams == [caja.jams(0.3, f"c{i}", 1) for i in range(2000)]
    assert not any(caja.jams(0, f"c{i}", 1) for i in range(100))
    assert all(caja.jams(1, f"c{i}", 1) for i in range(100))


@pytest.mark.parametrize(
    "value, reason",
    [
        ("", "La comanda va de 1 a 40 letras"),
        ("mesa 3", "llegó 'mesa 3'"),
        ("../cuentas", "llegó '../cuentas'"),
        ("ñ", "sin acento"),
        ("x" * 41, "de 1 a 40"),
        (17, "llegó 17"),
    ],
)
def test_a_bad_comanda_is_refused_in_spanish(value, reason):
    with pytest.raises(ValueError, match=reason):
        check_comanda(value)


@pytest.mark.parametrize("value", [-0.1, 1.5, "mucho", True])
def test_a_jam_rate_outside_0_and_1_is_refused(value):
    with pytest.raises(ValueError, match="atasco"):
        jam_rate(value)


def test_no_jam_rate_leaves_it_to_the_variable_of_the_day():
    assert jam_rate(None) is None
    assert jam_rate(0) == 0.0 and jam_rate(1) == 1.0


def test_the_command_line_refuses_a_bad_comanda_before_charging(own_home, capsys):
    assert paso8.main(["--comanda", "mesa 3"]) == 2
    assert "La comanda va de 1 a 40 letras" in capsys.readouterr().err
    assert not caja.ledger().exists()


def test_reading_a_comanda_that_was_never_charged_says_so(own_home, capsys):
    assert cuenta_guardada.main(["--comanda", "99"]) == 1
    assert "No hay una cuenta cobrada con la comanda 99" in capsys.readouterr().err


def serve(comanda: str, **options):
    grupo = dict(ANA)
    return asyncio.run(
        paso8.serve_party(grupo, Cocina(prob_quemar=0), comanda=comanda, **options)
    )


def runs_of_comanda(client, comanda: str) -> list:
    """Las corridas de esa comanda, de la primera a la última (entre las 100
    más recientes del servidor de pruebas, que es de todo este proceso)."""
    from prefect.client.schemas.sorting import FlowRunSort

    runs = client.read_flow_runs(sort=FlowRunSort.EXPECTED_START_TIME_DESC, limit=100)
    return [r for r in reversed(runs) if r.parameters.get("comanda") == comanda]


def logs_of_comanda(client, comanda: str) -> list[list[str]]:
    """Lo que dijo cada corrida de esa comanda, en orden."""
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

    flush_logs()
    return [
        [
            log.message
            for log in client.read_logs(
                log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run.id]))
            )
        ]
        for run in runs_of_comanda(client, comanda)
    ]


@pytest.mark.harness
@pytest.mark.slow
def test_a_comanda_served_twice_is_charged_once(restaurant, no_waits, own_home):
    first = serve("17")
    assert first["total_centavos"] == ANA_CENTAVOS
    again = serve("17")
    assert again["total_centavos"] == ANA_CENTAVOS
    (cobro,) = caja.charges("17")
    assert (cobro["estado"], cobro["centavos"]) == (caja.CHARGED, ANA_CENTAVOS)
    # La transacción quedó guardada con su clave, con la cuenta cobrada
    record = bills().read("cuenta-17").result
    assert record["centavos"] == ANA_CENTAVOS
    assert list(record["cuenta"]["plato"]) == ["Empanadas", "Limonada"]


@pytest.mark.harness
@pytest.mark.slow
def test_a_jammed_printer_voids_the_reservation_and_the_ticket_says_so(
    restaurant, no_waits, own_home, harness_api, prefect_client, capsys
):
    from prefect import get_client

    order = ["--plato", "Empanadas", "--plato", "Limonada", "--prob-quemar", "0"]
    assert paso8.main(["--comanda", "18", "--atasco", "1", *order]) == 1
    assert capsys.readouterr().err == (
        "\nNo se pudo cobrar: Se trabó la impresora de la mesa 3. La reserva se "
        "anuló y no se cobró nada.\nPara cobrar, vuelve a atender al grupo con la "
        "misma comanda --comanda 18: nunca se cobra dos veces.\n"
    )
    assert states("18") == [caja.VOIDED]
    assert not bills().exists("cuenta-18")  # nada quedó guardado: no se cobró
    (run,) = runs_of_comanda(prefect_client, "18")
    assert run.state.is_failed()
    (said,) = logs_of_comanda(prefect_client, "18")
    assert "Running rollback hook 'void_reservation'" in said
    assert "Cobro anulado: la comanda 18 no se cobra." in said

    async def tickets() -> list[str]:
        async with get_client() as client:
            artifacts = await client.read_artifacts()
        return [a.data for a in artifacts if a.key == "ticket"]

    voided = "El cobro de la comanda 18 falló y se anuló: no se cobró nada."
    assert any(voided in ticket for ticket in asyncio.run(tickets()))
    assert occupied_tables(harness_api) == {}
    # Con la impresora arreglada, la misma comanda se cobra una vez
    assert paso8.main(["--comanda", "18", *order]) == 0
    assert states("18") == [caja.VOIDED, caja.CHARGED]
    assert cuenta_guardada.main(["--comanda", "18"]) == 0
    assert capsys.readouterr().out.endswith("En la caja: anulado, cobrado.\n")


@pytest.mark.harness
@pytest.mark.slow
def test_a_party_killed_between_the_reservation_and_the_ticket_is_charged_once(
    restaurant, prefect_server, own_home
):
    # Los comandos del capítulo, con la comanda 17 y el grupo de siempre
    command = ["restaurant/paso8_cobro.py", "--comanda", "17"]
    env = {
        **os.environ,
        "PREFECT_HOME": str(own_home),
        "PREFECT_API_URL": prefect_server,
        "PYTHONUTF8": "1",
        "RESTAURANTE_ESCALA_TIEMPO": "1",
    }
    process = subprocess.Popen(
        [sys.executable, *command], cwd=ROOT, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        # La reserva está hecha y la impresora imprime (1 s): ahí se corta. Se
        # mira la caja cada 10 ms, sin espaciar las lecturas como `eventually`,
        # para no perderse ese segundo
        deadline = time.monotonic() + 150
        while states("17") != [caja.RESERVED]:
            assert process.poll() is None, (
                "el grupo terminó sin que se viera la reserva:\n"
                + process.communicate()[1].decode()
            )
            assert time.monotonic() < deadline, "la comanda 17 nunca quedó reservada"
            time.sleep(0.01)
        os.kill(process.pid, signal.SIGKILL)
        assert process.wait(timeout=30) == -signal.SIGKILL
    finally:
        process.kill()
    # Nadie anuló la reserva (no quedó quién ejecute on_rollback) y la
    # transacción no llegó a guardarse: Prefect no sabe que hubo reserva
    assert states("17") == [caja.RESERVED]
    assert not (own_home / "cuentas" / "cuenta-17").exists()
    # Su mesa quedó ocupada hasta que venza el lease: la libera la prueba, como
    # el hook on_crashed, para no dejársela a las pruebas que siguen
    asyncio.run(release_table_of_comanda("17"))

    def run(*args: str) -> subprocess.CompletedProcess:
        result = run_script(
            *args, home=own_home, api_url=prefect_server, RESTAURANTE_ESCALA_TIEMPO="0"
        )
        assert result.returncode == 0, result.stderr
        return result

    # Otra vez la misma comanda: la caja devuelve la reserva y se cobra una vez
    shown = run(*command).stderr
    steps = [
        "Reservar el monto: $25.15, comanda 17.",
        "Imprimir el ticket de la mesa 3.",
        "Cerrar la cuenta: $25.15 cobrados.",
    ]
    assert sorted(steps, key=shown.index) == steps, shown
    assert states("17") == [caja.CHARGED]
    # Y otra más: ya está cobrada, y la caja sigue con un solo cobro
    shown = run(*command).stderr
    assert "La comanda 17 ya está cobrada: no se cobra otra vez." in shown
    assert "Reservar el monto" not in shown
    assert states("17") == [caja.CHARGED]
    # Lo que muestra el capítulo, leído desde otro proceso
    chapter = (ROOT / "capitulos" / "10-la-cuenta.md").read_text(encoding="utf-8")
    expected = chapter.split("--comanda 17\n```\n\n```text\n")[1].split("```")[0]
    assert run("restaurant/cuenta_guardada.py", "--comanda", "17").stdout == expected


async def release_table_of_comanda(comanda: str) -> None:
    """Liberar la mesa de la corrida (muerta) que atendía esa comanda."""
    from uuid import UUID

    from prefect import get_client

    from mesas import LEASE_LABEL, release_table

    async with get_client() as client:
        runs = await client.read_flow_runs()
    (run,) = [
        r
        for r in runs
        if r.parameters.get("comanda") == comanda and r.state.is_running()
    ]
    await release_table(UUID(run.labels[LEASE_LABEL]))


@pytest.mark.harness
@pytest.mark.slow
def test_another_process_reads_a_run_result_only_if_the_flow_kept_it(
    restaurant, no_waits, prefect_server, tmp_path
):
    import run_restaurant

    grupo = {"nombre": "Rita", "personas": 2, "pedido": ["Limonada"]}
    asyncio.run(run_restaurant.serve_party(grupo, Cocina(prob_quemar=0)))
    grupo = {"nombre": "Teo", "personas": 2, "pedido": ["Limonada"]}
    asyncio.run(paso8.serve_party(grupo, Cocina(prob_quemar=0)))

    def read(nombre: str):
        return run_script(
            "restaurant/cuenta_guardada.py", "--corrida", f"atender-{nombre}",
            home=tmp_path, api_url=prefect_server,
        )  # fmt: skip

    step7, step8 = read("Rita"), read("Teo")
    assert step7.returncode == 1
    assert "La corrida atender-Rita terminó bien, pero su resultado no se guardó" in (
        step7.stderr
    )
    assert "State data is missing" in step7.stderr  # el texto de MissingResult
    assert step8.returncode == 0, step8.stderr
    assert step8.stdout.endswith("atender-Teo: mesa 1, $3.75.\n")


@pytest.mark.server
@pytest.mark.slow
def test_the_chapter_commands_work_without_a_server(tmp_path):
    # "Funciona sin servidor": el paso 8 y la lectura desde otro proceso, cada
    # uno con su servidor temporal y la misma carpeta de Prefect
    home = migrated_home(tmp_path)
    served = run_script(
        "restaurant/paso8_cobro.py", "--comanda", "17", home=home,
        RESTAURANTE_ESCALA_TIEMPO="0",
    )  # fmt: skip
    assert served.returncode == 0, served.stderr
    assert "Cerrar la cuenta: $25.15 cobrados." in served.stderr
    assert "Esta corrida usó un servidor temporal de Prefect" in served.stdout
    shown = run_script("restaurant/cuenta_guardada.py", "--comanda", "17", home=home)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.endswith("  1 × Limonada: $3.75\nEn la caja: cobrado.\n")
    # La Variable del día también: la CLI la guarda en la misma base de datos
    # (con su propio servidor temporal) y el paso 8 la lee
    variable = run_script(
        "-m", "prefect", "variable", "set", JAM_VARIABLE, "1", home=home
    )
    assert variable.returncode == 0, variable.stderr
    jammed = run_script(
        "restaurant/paso8_cobro.py", "--comanda", "18", home=home,
        RESTAURANTE_ESCALA_TIEMPO="0",
    )  # fmt: skip
    assert jammed.returncode == 1, jammed.stderr
    assert "Impresora de hoy: atasco 1." in jammed.stderr
    assert "No se pudo cobrar: Se trabó la impresora de la mesa 3." in jammed.stderr


def chapter_section(heading: str) -> str:
    chapter = (ROOT / "capitulos" / "10-la-cuenta.md").read_text(encoding="utf-8")
    return chapter.split(f"\n## {heading}\n")[1].split("\n## ")[0]


@pytest.fixture
def printer_variable(harness_api):
    """La Variable de la impresora, borrada al terminar: el servidor de pruebas
    es de todas las pruebas de este proceso, y las demás cuentan con que no esté."""
    from prefect.variables import Variable

    def prefect(*args: str) -> None:
        result = prefect_cli(harness_api, *args)
        assert result.returncode == 0, result.stdout + result.stderr

    yield prefect
    Variable.unset(JAM_VARIABLE)


@pytest.mark.harness
@pytest.mark.slow
def test_the_printer_variable_changes_the_next_run_without_touching_the_code(
    restaurant, no_waits, own_home, printer_variable, prefect_client, capsys
):
    # Los comandos del capítulo, en orden: la variable, el grupo, la variable,
    # el mismo grupo con el mismo comando
    section = chapter_section("La impresora de hoy: una Variable")
    block = section.split("```bash\n")[1].split("```")[0]
    commands = [shlex.split(line) for line in block.splitlines()]
    assert [c[:2] for c in commands] == [
        ["prefect", "variable"],
        ["python", "restaurant/paso8_cobro.py"],
    ] * 2
    codes = []
    for command in commands:
        if command[0] == "prefect":
            printer_variable(*command[1:])
        else:
            codes.append(paso8.main(command[2:]))
    assert codes == [1, 0]
    assert "Se trabó la impresora" in capsys.readouterr().err
    assert states("30") == [caja.VOIDED, caja.CHARGED]
    first, second = logs_of_comanda(prefect_client, "30")
    assert "Impresora de hoy: atasco 1." in first
    assert "Cobro anulado: la comanda 30 no se cobra." in first
    assert "Impresora de hoy: atasco 0." in second
    assert "Cerrar la cuenta: $25.15 cobrados." in second


@pytest.mark.harness
@pytest.mark.slow
def test_a_printer_variable_that_is_not_a_rate_stops_the_party_before_it_sits(
    restaurant, no_waits, own_home, printer_variable, harness_api, prefect_client,
    capsys,
):  # fmt: skip
    from prefect.variables import Variable

    # El segundo bloque del capítulo: un valor que no sirve, el grupo, borrarla
    section = chapter_section("La impresora de hoy: una Variable")
    block = section.split("```bash\n")[2].split("```")[0]
    wrong, party, unset = [shlex.split(line) for line in block.splitlines()]
    printer_variable(*wrong[1:])
    assert Variable.get(JAM_VARIABLE) == "mucho"
    # El script lo dice antes de empezar, con el texto del capítulo
    assert paso8.main(party[2:]) == 1
    expected = section.split("```text\n")[1].split("```")[0]
    assert capsys.readouterr().err == expected
    assert runs_of_comanda(prefect_client, "31") == []
    # El flow, llamado de otra forma, la lee al empezar: falla sin sentar a nadie
    with pytest.raises(BadVariable, match="llegó 'mucho'"):
        serve("31")
    assert states("31") == []
    assert occupied_tables(harness_api) == {}
    printer_variable(*unset[1:])
    assert Variable.get(JAM_VARIABLE) is None


@pytest.mark.harness
@pytest.mark.slow
def test_a_reservation_voided_by_another_run_of_the_same_comanda_is_not_charged(
    restaurant, no_waits, own_home, harness_api, monkeypatch, capsys
):
    # Dos corridas de la comanda 32 a la vez comparten la reserva de la caja. Aquí
    # la otra se imita: mientras esta imprime, su on_rollback anula la reserva
    def the_other_run_rolls_back(atasco, corrida, intento) -> bool:
        assert caja.void("32") == 1
        return False  # la impresora de esta corrida anda

    printer = caja.jams
    monkeypatch.setattr(caja, "jams", the_other_run_rolls_back)
    assert paso8.main(["--comanda", "32", "--atasco", "0"]) == 1
    assert capsys.readouterr().err.endswith(
        "\nNo se pudo cobrar: La comanda 32 no tiene un monto reservado. Otra corrida "
        "de la misma comanda, a la vez, pudo haberla anulado. No se cobró nada.\n"
        "Para cobrar, vuelve a atender al grupo con la misma comanda --comanda 32.\n"
    )
    assert states("32") == [caja.VOIDED]
    assert not bills().exists("cuenta-32")
    assert occupied_tables(harness_api) == {}
    # Sola, la misma comanda se cobra una vez
    monkeypatch.setattr(caja, "jams", printer)
    assert paso8.main(["--comanda", "32", "--atasco", "0"]) == 0
    assert states("32") == [caja.VOIDED, caja.CHARGED]
