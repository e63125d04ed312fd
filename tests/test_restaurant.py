"""Pruebas de restaurant/run_restaurant.py: reglas, tasks, flows, mesas y script."""

import asyncio
import logging
import time
import uuid
from collections import Counter

import pandas as pd
import pytest
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    ArtifactFilterKey,
    FlowRunFilter,
    FlowRunFilterName,
    FlowRunFilterParentFlowRunId,
    LogFilter,
    LogFilterFlowRunId,
)
from prefect.exceptions import ParameterTypeError
from prefect.logging import disable_run_logger
from pydantic import ValidationError

import run_restaurant as r
import turno
from cocina import TIME_SCALE_VARIABLE, Cocina, DishBurned, burns, time_scale
from cuenta import dish_list, ticket_markdown
from grupo import SAMPLE_PARTY, Grupo, describe
from herramientas.documentos import docs_text
from menu import MENU, load_menu, money
from mesas import TABLES, TablesNotOpen, open_restaurant, release_table, take_table
from tests.helpers import (
    RESTAURANT_STEPS,
    eventually,
    flush_logs,
    most_at_once,
    normalized_tables,
    occupied_tables,
    run_script,
    task_runs,
)
from turno import SAMPLE_SHIFT, serve_shift

NO_BURNS = Cocina(prob_quemar=0)
# Sin esperas simuladas (`no_waits`, en conftest.py)
pytestmark = pytest.mark.usefixtures("no_waits")


def party(**changes) -> dict:
    return {"nombre": "Ana", "personas": 3, "pedido": ["Empanadas"], **changes}


# ---------------------------------------------------------------------------
# Nivel rápido: datos, reglas y tasks con .fn(), sin servidor
# ---------------------------------------------------------------------------


def test_menu_prices_are_integer_cents():
    assert MENU.loc["Milanesa con papas", "precio_centavos"] == 1490
    assert MENU.loc["Limonada", "precio_centavos"] == 375
    assert MENU["precio_centavos"].dtype.kind == "i"
    assert MENU.loc["Limonada", "ingredientes"] == ["limón", "agua", "azúcar"]


def test_menu_with_fractions_of_a_cent_is_rejected(tmp_path):
    bad = tmp_path / "menu.csv"
    bad.write_text("plato,precio,ingredientes,segundos_preparacion\nTé,1.005,té,1\n")
    with pytest.raises(ValueError, match="como máximo dos decimales"):
        load_menu(bad)


def test_money_is_written_without_float_rounding():
    assert money(1490) == "$14.90"
    assert money(5) == "$0.05"
    assert money(650 * 3 + 375) == "$23.25"


def test_tables_are_sorted_from_smallest():
    assert TABLES["asientos"].tolist() == sorted(TABLES["asientos"])
    assert TABLES["mesa"].is_unique


def test_valid_party_is_normalised():
    grupo = Grupo.model_validate(
        party(nombre="  Ana  ", pedido=[" empanadas", "LIMONADA"])
    )
    assert grupo.nombre == "Ana"
    assert grupo.pedido == ["Empanadas", "Limonada"]


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"personas": 0}, "al menos 1; llegó 0"),
        ({"personas": -2}, "al menos 1; llegó -2"),
        ({"personas": 2.5}, "número entero; llegó 2.5"),
        ({"personas": "tres"}, "número entero; llegó 'tres'"),
        ({"personas": True}, "número entero; llegó True"),
        (
            {"personas": 7},
            "No tenemos mesa para 7 personas: la mesa más grande es de 6",
        ),
        ({"pedido": []}, "El pedido está vacío; el menú tiene: Empanadas, Milanesa"),
        ({"pedido": ["Pizza", "Empanadas"]}, "No está en el menú: 'Pizza'. El menú"),
        ({"nombre": ""}, "El nombre no puede estar vacío"),
        ({"nombre": "   "}, "El nombre no puede estar vacío"),
        ({"nombre": "x" * 61}, "hasta 60 caracteres"),
        ({"mesa": 3}, "Campo desconocido mesa"),
        ({"nombre": "Ana\nBeto"}, "sin saltos de línea, tabuladores ni otros"),
        ({"nombre": "Ana\tBeto"}, "llegó 'Ana\\tBeto'"),
        ({"nombre": "Ana\x1b[31m"}, "caracteres de control"),
        ({"nombre": "Ana\u2028Beto"}, "sin saltos de línea"),
        (
            {"pedido": "Empanadas"},
            "una lista de platos, no un texto; llegó 'Empanadas'",
        ),
        ({"pedido": {"Empanadas": 2}}, "una lista de platos; llegó dict"),
        (
            {"personas": 2, "pedido": ["Limonada"] * 5000},
            "hasta 4 platos por persona: para 2 personas, hasta 8; llegaron 5000",
        ),
    ],
    ids=lambda v: str(v)[:30],
)
def test_bad_party_gets_its_own_spanish_message(changes, message):
    with pytest.raises(ValidationError) as caught:
        Grupo.model_validate(party(**changes))
    assert message in describe(caught.value)


def test_order_of_four_dishes_per_person_is_accepted():
    grupo = Grupo.model_validate(party(personas=2, pedido=["Limonada"] * 8))
    assert len(grupo.pedido) == 8


def test_missing_name_is_reported():
    with pytest.raises(ValidationError) as caught:
        Grupo.model_validate({"personas": 2, "pedido": ["Limonada"]})
    assert describe(caught.value) == "Falta el campo nombre del grupo."


def test_unknown_dish_error_lists_the_whole_menu():
    with pytest.raises(ValidationError) as caught:
        Grupo.model_validate(party(pedido=["Sushi"]))
    for dish in MENU.index:
        assert dish in describe(caught.value)


@pytest.mark.parametrize("rate", [-0.1, 1.5, "mucho"])
def test_burn_rate_outside_0_and_1_is_rejected(rate):
    with pytest.raises(ValidationError, match="prob_quemar"):
        Cocina(prob_quemar=rate)


def test_time_scale_must_be_a_non_negative_number(monkeypatch):
    monkeypatch.setenv(TIME_SCALE_VARIABLE, "0.5")
    assert time_scale() == 0.5
    for bad in ("-1", "rápido", "nan"):
        monkeypatch.setenv(TIME_SCALE_VARIABLE, bad)
        with pytest.raises(ValueError, match="mayor o igual a 0"):
            time_scale()


def test_burns_is_deterministic_and_follows_the_rate():
    always, never = Cocina(prob_quemar=1), Cocina(prob_quemar=0)
    assert all(burns(always, f"x-{i}", 1) for i in range(50))
    assert not any(burns(never, f"x-{i}", 1) for i in range(50))
    kitchen = Cocina(prob_quemar=0.3, semilla=4)
    draws = [burns(kitchen, f"Ana-{i}-Empanadas", 1) for i in range(400)]
    assert draws == [burns(kitchen, f"Ana-{i}-Empanadas", 1) for i in range(400)]
    assert 0.2 < sum(draws) / len(draws) < 0.4


def test_take_order_counts_dishes_and_prices_them():
    grupo = Grupo.model_validate(party(pedido=["Empanadas", "Limonada", "Empanadas"]))
    with disable_run_logger():
        order = asyncio.run(r.take_order.fn(grupo))
    assert order.to_dict("records") == [
        {"plato": "Empanadas", "cantidad": 2, "precio_centavos": 650},
        {"plato": "Limonada", "cantidad": 1, "precio_centavos": 375},
    ]


def test_task_that_uses_the_run_logger_needs_disable_run_logger_with_fn():
    from prefect.exceptions import MissingContextError

    grupo = Grupo.model_validate(party())
    # La disculpa usa get_run_logger(): fuera de una corrida, .fn() falla...
    with pytest.raises(MissingContextError, match="no active flow or task run"):
        asyncio.run(r.say_goodbye.fn(grupo, ["Empanadas"]))
    # ...salvo dentro de disable_run_logger()
    with disable_run_logger():
        asyncio.run(r.say_goodbye.fn(grupo, ["Empanadas"]))


def test_gather_ingredients_reads_them_from_the_menu():
    with disable_run_logger():
        ingredients = asyncio.run(r.gather_ingredients.fn("Ravioles"))
    assert ingredients == ["harina", "ricota", "salsa de tomate"]


def test_cook_raises_when_the_dish_burns():
    with disable_run_logger(), pytest.raises(DishBurned, match="Se quemó Ravioles"):
        asyncio.run(r.cook.fn("Ravioles", "x", Cocina(prob_quemar=1)))


def test_name_with_markdown_and_html_neither_breaks_nor_injects_the_ticket():
    name = "<script>alert(1)</script> **Ana** | [x](http://y)"
    grupo = Grupo.model_validate(party(nombre=name))
    bill = pd.DataFrame(
        {"plato": ["Empanadas"], "cantidad": [1], "precio_centavos": [650]}
    ).assign(subtotal_centavos=650)
    ticket = ticket_markdown(grupo.nombre, grupo.personas, 3, bill, [])
    assert "<script>" not in ticket and "&lt;script&gt;" in ticket
    assert r"\*\*Ana\*\*" in ticket
    assert r"\| \[x\]\(http://y\)" in ticket
    # La tabla del ticket conserva sus 4 columnas: el nombre no agregó ninguna
    row = next(line for line in ticket.splitlines() if line.startswith("| Empanadas"))
    assert row.count("|") == 5


# ---------------------------------------------------------------------------
# Nivel de integración: los flows en el servidor de pruebas de la sesión
# ---------------------------------------------------------------------------


def serve(grupo: dict, cocina: Cocina = NO_BURNS):
    return asyncio.run(r.serve_party(grupo, cocina, return_state=True))


def subflow_runs(client, flow_run_id):
    parent = FlowRunFilterParentFlowRunId(any_=[flow_run_id])
    return client.read_flow_runs(
        flow_run_filter=FlowRunFilter(parent_flow_run_id=parent)
    )


@pytest.mark.harness
@pytest.mark.slow
def test_party_is_served_in_the_six_steps_of_the_example(
    restaurant, prefect_client, harness_api
):
    order = ["Empanadas", "Milanesa con papas", "Empanadas", "Limonada"]
    state = serve(party(personas=4, pedido=order))
    assert state.is_completed()
    result = asyncio.run(state.aresult())
    run_id = state.state_details.flow_run_id

    runs = task_runs(
        prefect_client, run_id, expected=len(RESTAURANT_STEPS) + len(order)
    )
    names = [tr.name.rsplit("-", 1)[0] for tr in runs]
    assert [n for n in names if n in RESTAURANT_STEPS] == RESTAURANT_STEPS
    # Cada subflow deja en el flow padre una task run con el nombre del subflow
    assert names.count("preparar-plato") == len(order)

    dishes = subflow_runs(prefect_client, run_id)
    assert len(dishes) == len(order)
    assert sorted(run.name for run in dishes) == sorted(
        f"preparar-Ana-{i}-{dish}" for i, dish in enumerate(order, 1)
    )
    assert all(run.state.is_completed() for run in dishes)
    for dish_run in dishes:
        inner = [
            t.name.rsplit("-", 1)[0]
            for t in task_runs(prefect_client, dish_run.id, expected=3)
        ]
        assert inner == ["Reunir ingredientes", "Cocinar", "Emplatar"]

    expected_total = sum(MENU.loc[dish, "precio_centavos"] for dish in order)
    assert result["total_centavos"] == expected_total == 650 * 2 + 1490 + 375
    assert result["cuenta"].to_dict("records")[0] == {
        "plato": "Empanadas",
        "cantidad": 2,
        "precio_centavos": 650,
        "subtotal_centavos": 1300,
    }
    assert result["mesa"] in (3, 4)  # las mesas de 4, las más chicas donde entran
    assert occupied_tables(harness_api) == {}


@pytest.mark.harness
@pytest.mark.slow
def test_bill_and_ticket_are_attached_to_the_party_run(restaurant, prefect_client):
    state = serve(party(nombre="Bruno", personas=2, pedido=["Ravioles", "Limonada"]))
    run_id = state.state_details.flow_run_id
    artifacts = prefect_client.read_artifacts(
        artifact_filter=ArtifactFilter(
            flow_run_id=ArtifactFilterFlowRunId(any_=[run_id])
        )
    )
    by_key = {artifact.key: artifact for artifact in artifacts}
    assert set(by_key) == {"cuenta", "ticket"}
    assert by_key["cuenta"].type == "table"
    assert "$12.00" in by_key["cuenta"].data and "$15.75" in by_key["cuenta"].data
    assert by_key["ticket"].type == "markdown"
    assert "**Total: $15.75**" in by_key["ticket"].data
    assert "A nombre de **Bruno**, 2 personas." in by_key["ticket"].data


@pytest.mark.harness
def test_bad_party_fails_before_any_task_runs(restaurant, prefect_client):
    with pytest.raises(ParameterTypeError, match="No tenemos mesa para 9 personas"):
        asyncio.run(r.serve_party(party(personas=9)))
    runs = prefect_client.read_flow_runs(limit=1, sort="EXPECTED_START_TIME_DESC")
    assert runs[0].state.is_failed()
    assert task_runs(prefect_client, runs[0].id) == []


def seed_that_burns_only_the_first_time(label: str, rate: float) -> int:
    """Buscar una semilla que queme el plato al primer intento y no al segundo."""
    return next(
        seed
        for seed in range(1000)
        if burns(Cocina(prob_quemar=rate, semilla=seed), label, 1)
        and not burns(Cocina(prob_quemar=rate, semilla=seed), label, 2)
    )


@pytest.mark.harness
@pytest.mark.slow
def test_burnt_dish_is_retried_and_served(restaurant, prefect_client):
    seed = seed_that_burns_only_the_first_time("Carla-1-Ravioles", 0.5)
    kitchen = Cocina(prob_quemar=0.5, semilla=seed)
    state = serve(party(nombre="Carla", pedido=["Ravioles"]), kitchen)
    result = asyncio.run(state.aresult())
    assert result["servidos"] == ["Ravioles"] and result["total_centavos"] == 1200

    (dish_run,) = subflow_runs(prefect_client, state.state_details.flow_run_id)
    cook_run = next(
        t
        for t in task_runs(prefect_client, dish_run.id, expected=3)
        if t.name.startswith("Cocinar")
    )
    assert cook_run.run_count == 2
    history = [s.name for s in prefect_client.read_task_run_states(cook_run.id)]
    # Mientras espera el reintento: AwaitingRetry; el segundo intento: Retrying
    assert history == ["Pending", "Running", "AwaitingRetry", "Retrying", "Completed"]


@pytest.mark.harness
@pytest.mark.slow
def test_dish_that_keeps_burning_is_not_served_nor_charged(
    restaurant, prefect_client, harness_api
):
    burner = Cocina(prob_quemar=1)
    state = serve(party(nombre="Diego", pedido=["Ravioles", "Limonada"]), burner)
    assert state.is_completed()
    result = asyncio.run(state.aresult())
    assert result["servidos"] == [] and result["no_servidos"] == [
        "Ravioles",
        "Limonada",
    ]
    assert result["total_centavos"] == 0
    assert occupied_tables(harness_api) == {}  # la mesa quedó libre

    run_id = state.state_details.flow_run_id
    dishes = subflow_runs(prefect_client, run_id)
    assert all(run.state.is_failed() for run in dishes)
    # Cada plato se preparó dos veces (el subflow se reintenta una vez), y en
    # cada preparación Cocinar se intentó 3 veces (1 intento + 2 reintentos)
    assert [run.run_count for run in dishes] == [2, 2]
    for run in dishes:
        names = [
            (t.name.rsplit("-", 1)[0], t.run_count)
            for t in task_runs(prefect_client, run.id, expected=4)
        ]
        assert sorted(names) == [
            ("Cocinar", 3),
            ("Cocinar", 3),
            ("Reunir ingredientes", 1),
            ("Reunir ingredientes", 1),
        ]
    flush_logs()
    logs = prefect_client.read_logs(
        log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run_id]))
    )
    assert any(
        "Disculpe, Diego: no pudimos servir Ravioles, Limonada" in log.message
        for log in logs
    )


def seed_that_burns_only(label: str, spared: str, rate: float) -> int:
    """Buscar una semilla que queme `label` en sus seis intentos y no `spared`."""
    return next(
        seed
        for seed in range(5000)
        if all(
            burns(Cocina(prob_quemar=rate, semilla=seed), label, n)
            for n in range(1, 7)  # dos preparaciones de tres intentos
        )
        and not burns(Cocina(prob_quemar=rate, semilla=seed), spared, 1)
    )


@pytest.mark.harness
@pytest.mark.slow
def test_one_of_two_equal_dishes_burns_and_ticket_and_goodbye_agree(
    restaurant, prefect_client
):
    seed = seed_that_burns_only("Eva-1-Empanadas", "Eva-2-Empanadas", 0.5)
    kitchen = Cocina(prob_quemar=0.5, semilla=seed)
    state = serve(party(nombre="Eva", pedido=["Empanadas", "Empanadas"]), kitchen)
    result = asyncio.run(state.aresult())
    assert result["servidos"] == ["Empanadas"]
    assert result["no_servidos"] == ["Empanadas"]
    assert result["total_centavos"] == 650

    run_id = state.state_details.flow_run_id
    (ticket,) = prefect_client.read_artifacts(
        artifact_filter=ArtifactFilter(
            flow_run_id=ArtifactFilterFlowRunId(any_=[run_id]),
            key=ArtifactFilterKey(any_=["ticket"]),
        )
    )
    assert "| Empanadas | 1 | $6.50 | $6.50 |" in ticket.data
    assert "No servido y no cobrado: Empanadas." in ticket.data
    flush_logs()
    logs = prefect_client.read_logs(
        log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run_id]))
    )
    assert any(
        "Disculpe, Eva: no pudimos servir Empanadas y no se lo cobramos" in log.message
        for log in logs
    )


def test_dish_list_counts_repeated_dishes():
    assert dish_list(["Empanadas", "Limonada", "Empanadas"]) == (
        "2 × Empanadas, Limonada"
    )


@pytest.mark.harness
def test_missing_table_limit_fails_loudly(restaurant, prefect_client, harness_api):
    prefect_client.delete_global_concurrency_limit_by_name("mesa-5")
    try:
        with pytest.raises(TablesNotOpen, match="mesa-5"):
            asyncio.run(r.serve_party(party(personas=6)))
    finally:
        asyncio.run(open_restaurant())
    assert occupied_tables(harness_api) == {}


class Recorder(logging.Handler):
    """Guardar lo que escribe un logger, para leerlo en la prueba."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.mark.harness
def test_concurrency_with_a_missing_limit_warns_and_strict_raises(prefect_server):
    from prefect.concurrency.asyncio import concurrency

    # Prefect no la exporta en prefect.exceptions: se reconoce por el nombre

    async def enter(strict: bool) -> bool:
        async with concurrency("mesa-que-no-existe", strict=strict):
            return True

    recorder = Recorder()
    logger = logging.getLogger("prefect.concurrency")
    logger.addHandler(recorder)
    try:
        # Sin strict, el bloque se ejecuta sin límite, con un WARNING en el log
        assert asyncio.run(enter(strict=False)) is True
    finally:
        logger.removeHandler(recorder)
    (warning,) = recorder.records
    assert warning.levelname == "WARNING"
    assert "['mesa-que-no-existe'] do not exist - skipping" in warning.getMessage()
    with pytest.raises(Exception, match="must be created before acquiring") as caught:
        asyncio.run(enter(strict=True))
    assert type(caught.value).__name__ == "ConcurrencySlotAcquisitionError"


@pytest.mark.harness
def test_concurrency_with_several_names_takes_all_of_them(restaurant, harness_api):
    # Por eso las mesas no usan concurrency(): un grupo de 3 necesita una de las
    # mesas de 4, no las dos a la vez
    from prefect.concurrency.asyncio import concurrency

    async def occupied_inside() -> dict[str, int]:
        async with concurrency(["mesa-3", "mesa-4"]):
            return occupied_tables(harness_api)

    assert asyncio.run(occupied_inside()) == {"mesa-3": 1, "mesa-4": 1}
    assert occupied_tables(harness_api) == {}


@pytest.mark.harness
@pytest.mark.slow
def test_party_waits_for_its_only_table_and_sits_when_it_is_freed(
    restaurant, prefect_client, harness_api
):
    async def scenario() -> tuple[dict, float]:
        from prefect import get_client

        async with get_client() as client:
            lease = await take_table(client, 5)  # la única mesa de 6
        assert lease is not None
        party_run = asyncio.create_task(
            r.serve_party(party(nombre="Seis", personas=6), NO_BURNS)
        )
        # El grupo avisa que espera (un log de su corrida); se lo lee desde otro
        # hilo para no frenar al grupo, que corre en este mismo bucle de asyncio
        await asyncio.to_thread(
            eventually,
            lambda: waiting_notice(prefect_client, "atender-Seis"),
            lambda found: found,
            what="el aviso de Seis: espera a que se libere una mesa",
        )
        assert not party_run.done(), "se sentó en una mesa ocupada"
        freed_at = time.time()
        await release_table(lease)
        return await asyncio.wait_for(party_run, timeout=60), freed_at

    result, freed_at = asyncio.run(scenario())
    assert result["mesa"] == 5
    assert result["sentado"] >= freed_at
    assert occupied_tables(harness_api) == {}


def waiting_notice(client, run_name: str) -> list[str]:
    """Los logs de la corrida `run_name` que dicen que el grupo espera mesa."""
    runs = client.read_flow_runs(
        flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=[run_name]))
    )
    if not runs:
        return []
    logs = client.read_logs(
        log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[runs[0].id]))
    )
    return [log.message for log in logs if "espera a que se libere una" in log.message]


SIZES = [1, 2, 2, 3, 4, 4, 5, 6, 6, 2, 1, 3, 4, 5, 6, 2, 2, 3, 1, 6]


@pytest.mark.harness
@pytest.mark.slow
def test_busy_shift_never_shares_a_table_and_loses_nobody(restaurant, harness_api):
    arrivals = [
        {"nombre": f"Grupo {i:02d}", "personas": size, "pedido": ["Limonada"]}
        for i, size in enumerate(SIZES, 1)
    ]
    arrivals.append({"nombre": "Excursión", "personas": 12, "pedido": ["Limonada"]})

    result = asyncio.run(serve_shift(arrivals, NO_BURNS))

    served = result["atendidos"]
    assert sorted(p["nombre"] for p in served) == [a["nombre"] for a in arrivals[:20]]
    assert result["fallidos"] == []
    assert [x["llegada"]["nombre"] for x in result["rechazados"]] == ["Excursión"]
    assert "No tenemos mesa para 12" in result["rechazados"][0]["motivo"]

    seats = dict(zip(TABLES["mesa"], TABLES["asientos"], strict=True))
    for p in served:
        assert p["personas"] <= seats[p["mesa"]]
        assert p["total_centavos"] == 375
    # Una mesa nunca tiene dos grupos a la vez
    for mesa in seats:
        stays = [(p["sentado"], p["liberado"]) for p in served if p["mesa"] == mesa]
        assert most_at_once(stays) <= 1, f"la mesa {mesa} tuvo dos grupos a la vez"
    # Nunca hay más grupos sentados que mesas
    most = most_at_once([(p["sentado"], p["liberado"]) for p in served])
    assert 1 < most <= len(seats)
    assert Counter(p["mesa"] for p in served)[5] >= SIZES.count(6)
    assert occupied_tables(harness_api) == {}


@pytest.mark.harness
@pytest.mark.slow
def test_shift_names_a_party_whose_run_the_server_could_not_open(
    restaurant, harness_api, monkeypatch
):
    # Un SQLite saturado puede responder 503 al abrir la corrida de un grupo aun
    # después de los reintentos del cliente: ese grupo se nombra, los demás comen
    import httpx

    request = httpx.Request("POST", f"{harness_api.url}/api/task_runs/")
    busy = httpx.HTTPStatusError(
        "503", request=request, response=httpx.Response(503, request=request)
    )
    real_serve_party = turno.serve_party

    def serve_party(grupo, cocina, **kwargs):
        if grupo.nombre == "Bruno":

            async def refused():
                raise busy

            return refused()
        return real_serve_party(grupo, cocina, **kwargs)

    monkeypatch.setattr(turno, "serve_party", serve_party)
    arrivals = [
        party(nombre=nombre, pedido=["Limonada"])
        for nombre in ["Ana", "Bruno", "Carla"]
    ]

    result = asyncio.run(serve_shift(arrivals, NO_BURNS))

    assert [p["nombre"] for p in result["atendidos"]] == ["Ana", "Carla"]
    assert result["fallidos"] == [
        {
            "nombre": "Bruno",
            "motivo": "El servidor de Prefect no pudo abrir su corrida (respondió "
            "503); vuelve a intentarlo.",
        }
    ]
    assert occupied_tables(harness_api) == {}


# ---------------------------------------------------------------------------
# El script, como lo ejecuta quien aprende
# ---------------------------------------------------------------------------


@pytest.mark.harness
@pytest.mark.slow
def test_script_tells_the_story_and_ends_with_the_bill(
    restaurant, prefect_server, tmp_path
):
    result = run_script(
        "restaurant/run_restaurant.py", home=tmp_path, api_url=prefect_server
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    positions = [output.index(f"Task run '{step}-") for step in RESTAURANT_STEPS]
    assert positions == sorted(positions)
    assert "Bienvenida, Ana: mesa para 3, por favor." in output
    assert "Verificar mesas disponibles" in output
    assert "Preparar la mesa" in output and "Llevar a la persona a la mesa" in output
    assert output.count("Beginning subflow run 'preparar-Ana-") == 3
    expected = sum(MENU.loc[d, "precio_centavos"] for d in SAMPLE_PARTY["pedido"])
    assert result.stdout.rstrip().endswith(f"Total: {money(expected)}")


@pytest.mark.harness
@pytest.mark.slow
def test_shift_script_names_each_party_it_could_not_serve(
    restaurant, prefect_server, capsys
):
    assert turno.main() == 0
    shown = capsys.readouterr().out
    lines = shown.strip().splitlines()
    served = [p["nombre"] for p in SAMPLE_SHIFT if p["personas"] <= 6]
    assert [line.split(":")[0] for line in lines[: len(served)]] == served
    assert lines[-1] == (
        "No atendido: Familia Pérez. No tenemos mesa para 9 personas: "
        "la mesa más grande es de 6."
    )
    # El README muestra esta misma salida (salvo qué mesa tocó a cada grupo)
    readme = docs_text()
    block = readme.split("$ python restaurant/turno.py\n")[1]
    assert normalized_tables(block.split("```")[0]) == normalized_tables(shown)


def test_script_rejects_a_bad_party_in_spanish_before_starting(capsys, monkeypatch):
    import linea_de_comandos

    def must_not_start(*args, **kwargs):
        raise AssertionError("con un grupo inválido no se empieza a atender")

    import paso5_grupo

    monkeypatch.setattr(linea_de_comandos, "open_and_serve", must_not_start)
    assert paso5_grupo.main(["--personas", "0"]) == 2
    shown = capsys.readouterr()
    assert "La cantidad de personas debe ser al menos 1; llegó 0." in shown.err
    assert shown.out == ""
    # El README muestra esta misma salida
    readme = docs_text()
    command = "$ python restaurant/paso5_grupo.py --personas 0\n"
    assert shown.err == readme.split(command)[1].split("```")[0]


@pytest.fixture
def labels_refused(monkeypatch):
    """Dentro de una corrida, con un servidor que responde 503 a las etiquetas (un
    SQLite saturado): da esa respuesta (`refuse`) y los WARNING escritos."""
    from types import SimpleNamespace

    import httpx

    import mesas

    warnings: list[str] = []
    request = httpx.Request("PATCH", "http://127.0.0.1/api/flow_runs/x/labels")
    busy = httpx.HTTPStatusError(
        "503", request=request, response=httpx.Response(503, request=request)
    )

    async def refuse(flow_run_id, labels):
        raise busy

    class Logger:
        def warning(self, message, *args):
            warnings.append(message % args)

    monkeypatch.setattr(mesas, "get_run_logger", Logger)
    monkeypatch.setattr(mesas.runtime.flow_run, "id", uuid.uuid4(), raising=False)
    return SimpleNamespace(refuse=refuse, warnings=warnings)


class FakeClient:
    """Lo justo del cliente de Prefect para ocupar y liberar una mesa."""

    def __init__(self, update_flow_run_labels) -> None:
        self.update_flow_run_labels = update_flow_run_labels
        self.released: list = []

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc_info):
        return None

    async def increment_concurrency_slots_with_lease(self, **kwargs):
        import httpx

        return httpx.Response(200, json={"lease_id": str(LEASE)})

    async def release_concurrency_slots_with_lease(self, lease_id):
        self.released.append(lease_id)


LEASE = uuid.uuid4()


def test_a_table_whose_note_cannot_be_written_is_still_the_partys(labels_refused):
    # Un servidor saturado puede responder 503 a la etiqueta con la mesa: la mesa
    # es del grupo igual; si la corrida se corta, la devuelve el lease, no el hook
    import mesas

    client = FakeClient(labels_refused.refuse)
    assert asyncio.run(mesas.take_table(client, 3)) == LEASE
    assert labels_refused.warnings == [
        "Mesa 3 ocupada, pero no se anotó en la corrida (503): si la corrida se "
        "corta, la mesa vuelve cuando venza el lease."
    ]


def test_a_note_that_cannot_be_written_does_not_undo_a_freed_table(
    labels_refused, monkeypatch
):
    # Lo mismo al irse: la mesa ya está libre y el grupo, atendido
    import mesas

    client = FakeClient(labels_refused.refuse)
    monkeypatch.setattr(mesas, "get_client", lambda: client)
    asyncio.run(mesas.release_table(LEASE))
    assert client.released == [LEASE]
    assert labels_refused.warnings == [
        "Mesa libre, pero no se anotó en la corrida (503)."
    ]
