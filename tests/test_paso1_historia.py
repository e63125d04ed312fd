"""El restaurante, paso 1 (restaurant/paso1_historia.py): la historia y nada más."""

import pytest
from prefect.client.schemas.filters import (
    FlowRunFilter,
    FlowRunFilterParentFlowRunId,
    LogFilter,
    LogFilterFlowRunId,
)
from prefect.logging import disable_run_logger

import paso1_historia as paso1
from tests.helpers import (
    RESTAURANT_STEPS,
    ROOT,
    flush_logs,
    migrated_home,
    run_script,
    task_runs,
)

SOURCE = (ROOT / "restaurant" / "paso1_historia.py").read_text(encoding="utf-8")
TOTAL = 650 + 1490 + 375  # Empanadas, Milanesa con papas y Limonada


def test_step_one_fits_in_two_screens_and_has_none_of_the_later_ideas():
    assert len(SOURCE.splitlines()) <= 120
    later = ["concurrency", "lease", "pause_flow_run", "on_failure", "on_crashed"]
    later += ["BeforeValidator", "artifact", "async def", "await"]
    assert [idea for idea in later if idea in SOURCE] == []


@pytest.mark.parametrize("personas, mesa", [(1, 1), (2, 1), (3, 3), (5, 5), (6, 5)])
def test_assign_table_takes_the_smallest_table_where_they_fit(no_waits, personas, mesa):
    with disable_run_logger():
        assert paso1.assign_table.fn("Ana", personas) == mesa


def test_charge_adds_the_menu_prices_of_what_was_served(no_waits):
    with disable_run_logger():
        assert paso1.charge.fn(paso1.PEDIDO) == TOTAL
        assert paso1.charge.fn(["Limonada", "Limonada"]) == 2 * 375


@pytest.mark.harness
def test_party_goes_through_the_six_steps_with_one_subflow_per_dish(
    prefect_server, prefect_client, no_waits
):
    state = paso1.serve_party("Ana", 3, paso1.PEDIDO, return_state=True)
    assert state.is_completed()
    assert state.result() == {
        "mesa": 3,
        "servidos": paso1.PEDIDO,
        "total_centavos": TOTAL,
    }
    run_id = state.state_details.flow_run_id
    names = [
        t.name.rsplit("-", 1)[0]
        for t in task_runs(prefect_client, run_id, expected=6 + len(paso1.PEDIDO))
    ]
    # Las seis tasks en el orden del ejemplo; cada subflow deja una task run con
    # su nombre en el flow padre, entre Tomar pedido y Llevar la comida
    assert [n for n in names if n != "preparar-plato"] == RESTAURANT_STEPS
    assert names[3:6] == ["preparar-plato"] * 3

    parent = FlowRunFilterParentFlowRunId(any_=[run_id])
    dishes = prefect_client.read_flow_runs(
        flow_run_filter=FlowRunFilter(parent_flow_run_id=parent)
    )
    assert sorted(d.name for d in dishes) == sorted(
        f"preparar-{plato}" for plato in paso1.PEDIDO
    )
    cooked = {}
    for dish in dishes:
        inner = task_runs(prefect_client, dish.id, expected=2)
        assert [t.name.rsplit("-", 1)[0] for t in inner] == [
            "Reunir ingredientes",
            "Cocinar",
        ]
        cooked[dish.name] = inner[1]
    # La semilla del paso quema la Milanesa una vez: Prefect reintenta Cocinar
    assert {name: t.run_count for name, t in cooked.items()} == {
        "preparar-Empanadas": 1,
        "preparar-Milanesa con papas": 2,
        "preparar-Limonada": 1,
    }
    retried = cooked["preparar-Milanesa con papas"]
    history = [s.name for s in prefect_client.read_task_run_states(retried.id)]
    assert history == ["Pending", "Running", "AwaitingRetry", "Retrying", "Completed"]

    # log_prints: los print de las tasks son logs de la corrida
    flush_logs()
    messages = [
        log.message
        for log in prefect_client.read_logs(
            log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run_id]))
        )
    ]
    assert "Llevar a la persona a la mesa: Ana ya está en la mesa 3." in messages
    assert "Cobrar el servicio: $25.15 por 3 platos." in messages


@pytest.mark.server
def test_script_runs_on_the_temporary_server_and_says_where_to_see_it(tmp_path):
    result = run_script(
        "restaurant/paso1_historia.py",
        home=migrated_home(tmp_path),
        RESTAURANTE_ESCALA_TIEMPO="0",
    )
    assert result.returncode == 0, result.stderr
    assert "Starting temporary server" in result.stdout + result.stderr
    assert result.stdout.endswith(
        "Mesa 3, total $25.15.\n"
        "Para verla: `prefect server start` y http://127.0.0.1:4200\n"
    )
    output = result.stdout + result.stderr
    assert "Se quemó Milanesa con papas (intento 1).') - Retry 1/2" in output
    assert "Flow run 'atender-Ana' - Finished in state Completed()" in output


@pytest.mark.harness
@pytest.mark.slow
def test_script_on_a_server_prints_no_hint(prefect_server, tmp_path):
    result = run_script(
        "restaurant/paso1_historia.py",
        home=tmp_path,
        api_url=prefect_server,
        RESTAURANTE_ESCALA_TIEMPO="0",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.endswith("Mesa 3, total $25.15.\n")
    assert "Starting temporary server" not in result.stdout + result.stderr
