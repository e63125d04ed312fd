"""El restaurante, paso 2 (restaurant/paso2_cocina.py): la cocina a la vez."""

import asyncio

import pytest
from prefect.client.schemas.filters import (
    FlowRunFilter,
    FlowRunFilterParentFlowRunId,
    LogFilter,
    LogFilterFlowRunId,
)

import paso2_cocina as paso2
from tests.helpers import (
    RESTAURANT_STEPS,
    flush_logs,
    migrated_home,
    run_script,
    task_runs,
)

TOTAL = 650 + 1490 + 375  # Empanadas, Milanesa con papas y Limonada


def dish_runs(client, run_id):
    parent = FlowRunFilterParentFlowRunId(any_=[run_id])
    runs = client.read_flow_runs(
        flow_run_filter=FlowRunFilter(parent_flow_run_id=parent)
    )
    return {run.name: run for run in runs}


@pytest.mark.harness
@pytest.mark.slow
def test_dishes_cook_at_once_and_a_dish_that_fails_is_prepared_again(
    prefect_server, prefect_client, monkeypatch
):
    # Cada espera de la cocina espera (hasta 10 s) a que empiece otra a la vez: si
    # los platos se prepararan uno detrás de otro, nunca habría dos en curso
    from prefect import runtime

    busy = {"now": 0, "most": 0}

    async def simulate(seconds):
        if runtime.flow_run.flow_name != "preparar-plato":
            return
        busy["now"] += 1
        busy["most"] = max(busy["most"], busy["now"])
        waited = 0.0
        while busy["most"] < 2 and waited < 10:
            await asyncio.sleep(0.05)
            waited += 0.05
        busy["now"] -= 1

    monkeypatch.setattr(paso2, "simulate", simulate)
    state = asyncio.run(paso2.serve_party("Ana", 3, paso2.PEDIDO, return_state=True))
    assert state.is_completed()
    assert asyncio.run(state.aresult()) == {
        "mesa": 3,
        "servidos": paso2.PEDIDO,
        "total_centavos": TOTAL,
    }
    assert busy["most"] >= 2, "los platos no se prepararon a la vez"
    run_id = state.state_details.flow_run_id
    names = [t.name.rsplit("-", 1)[0] for t in task_runs(prefect_client, run_id, 9)]
    assert [n for n in names if n != "preparar-plato"] == RESTAURANT_STEPS
    dishes = dish_runs(prefect_client, run_id)
    assert sorted(dishes) == sorted(
        f"preparar-Ana-{i}-{plato}" for i, plato in enumerate(paso2.PEDIDO, 1)
    )
    # Con la cocina del paso, la limonada se quema en los tres intentos de la
    # primera preparación: Prefect reintenta el subflow entero y sale en el cuarto
    lemonade = dishes["preparar-Ana-3-Limonada"]
    assert lemonade.run_count == 2
    cooks = [
        t
        for t in task_runs(prefect_client, lemonade.id, 5)
        if t.name.startswith("Cocinar")
    ]
    assert sorted(t.run_count for t in cooks) == [1, 3]
    assert dishes["preparar-Ana-2-Milanesa con papas"].run_count == 1


@pytest.mark.harness
@pytest.mark.slow
def test_a_dish_that_never_comes_out_is_not_served_nor_charged(
    prefect_server, prefect_client, no_waits, monkeypatch
):
    monkeypatch.setattr(
        paso2, "burns", lambda cocina, etiqueta, intento: "Milanesa" in etiqueta
    )
    state = asyncio.run(paso2.serve_party("Ana", 3, paso2.PEDIDO, return_state=True))
    assert state.is_completed()
    assert asyncio.run(state.aresult()) == {
        "mesa": 3,
        "servidos": ["Empanadas", "Limonada"],
        "total_centavos": 650 + 375,
    }
    run_id = state.state_details.flow_run_id
    milanesa = dish_runs(prefect_client, run_id)["preparar-Ana-2-Milanesa con papas"]
    assert milanesa.state.is_failed() and milanesa.run_count == 2
    flush_logs()
    logs = prefect_client.read_logs(
        log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run_id]))
    )
    warnings = [log.message for log in logs if log.level == 30]
    assert warnings == [
        "Disculpe, Ana: no pudimos servir Milanesa con papas y no se lo cobramos."
    ]


@pytest.mark.server
@pytest.mark.slow
def test_script_runs_on_the_temporary_server(tmp_path):
    result = run_script(
        "restaurant/paso2_cocina.py",
        home=migrated_home(tmp_path),
        RESTAURANTE_ESCALA_TIEMPO="0",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.endswith(
        "Mesa 3, total $25.15.\n"
        "Para verla: `prefect server start` y http://127.0.0.1:4200\n"
    )
    assert "Se quemó Limonada (intento 3)" in result.stdout + result.stderr
