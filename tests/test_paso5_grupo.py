"""El restaurante, paso 5 (restaurant/paso5_grupo.py): datos que no se atienden."""

import asyncio

import pytest
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

import paso5_grupo as paso5
from cocina import Cocina
from tests.helpers import task_runs


@pytest.mark.harness
@pytest.mark.slow
def test_a_bad_party_fails_before_any_task_with_the_reason_in_spanish(
    restaurant, prefect_client, no_waits
):
    grupo = {"nombre": "Ana", "personas": 9, "pedido": ["Limonada"]}
    state = asyncio.run(
        paso5.serve_party(grupo, Cocina(prob_quemar=0), return_state=True)
    )
    assert state.is_failed()
    assert "No tenemos mesa para 9 personas: la mesa más grande es de 6." in (
        state.message
    )
    run_id = state.state_details.flow_run_id
    (run,) = prefect_client.read_flow_runs(
        flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[run_id]))
    )
    assert run.state.is_failed()
    assert task_runs(prefect_client, run_id) == []


@pytest.mark.harness
@pytest.mark.slow
def test_a_good_party_is_served_with_the_kitchen_it_was_given(restaurant, no_waits):
    grupo = {"nombre": "Bruno", "personas": 2, "pedido": ["Ravioles", "Limonada"]}
    result = asyncio.run(paso5.serve_party(grupo, Cocina(prob_quemar=0)))
    assert result["nombre"] == "Bruno"
    assert result["servidos"] == ["Ravioles", "Limonada"]
    assert result["no_servidos"] == []
    assert result["total_centavos"] == 1200 + 375
