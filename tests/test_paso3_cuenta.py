"""El restaurante, paso 3 (restaurant/paso3_cuenta.py): la cuenta, un artefacto."""

import asyncio

import pytest
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId

import paso3_cuenta as paso3
from tests.helpers import run_script


@pytest.mark.harness
@pytest.mark.slow
def test_bill_and_ticket_are_artifacts_of_the_party_run(
    prefect_server, prefect_client, no_waits, monkeypatch
):
    # La milanesa no sale: no se cobra, y el ticket lo dice
    monkeypatch.setattr(
        paso3, "burns", lambda cocina, etiqueta, intento: "Milanesa" in etiqueta
    )
    pedido = ["Empanadas", "Empanadas", "Milanesa con papas"]
    state = asyncio.run(paso3.serve_party("Ana", 3, pedido, return_state=True))
    result = asyncio.run(state.aresult())
    assert result["total_centavos"] == 2 * 650
    assert result["cuenta"].to_dict("records") == [
        {
            "plato": "Empanadas",
            "cantidad": 2,
            "precio_centavos": 650,
            "subtotal_centavos": 1300,
        }
    ]
    artifacts = prefect_client.read_artifacts(
        artifact_filter=ArtifactFilter(
            flow_run_id=ArtifactFilterFlowRunId(any_=[state.state_details.flow_run_id])
        )
    )
    # Los de la cuenta tienen clave; los otros, sin clave ni tipo, son registros
    # de resultados guardados (storage_key) que Prefect asocia a la corrida
    by_key = {a.key: a for a in artifacts if a.key}
    assert {key: a.type for key, a in by_key.items()} == {
        "cuenta": "table",
        "ticket": "markdown",
    }
    assert "$13.00" in by_key["cuenta"].data
    assert "Milanesa" not in by_key["cuenta"].data
    ticket = by_key["ticket"].data
    assert "A nombre de **Ana**, 3 personas." in ticket
    assert "| Empanadas | 2 | $6.50 | $13.00 |" in ticket
    assert "No servido y no cobrado: Milanesa con papas." in ticket


@pytest.mark.harness
@pytest.mark.slow
@pytest.mark.parametrize(
    "script, ends_with",
    [
        ("paso3_cuenta.py", "Total: $25.15\n"),
        ("paso4_mesas.py", "Total: $25.15\n"),
        ("paso5_grupo.py", "Total: $25.15\n"),
        ("paso6_postre.py", "Total: $25.15\n"),
    ],
)
def test_each_step_runs_by_itself_and_ends_with_the_bill(
    restaurant, prefect_server, tmp_path, script, ends_with
):
    result = run_script(
        f"restaurant/{script}",
        home=tmp_path,
        api_url=prefect_server,
        RESTAURANTE_ESCALA_TIEMPO="0",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("\nCuenta de Ana, mesa ")
    assert result.stdout.endswith(ends_with)
    assert "Flow run 'atender-Ana' - Finished in state Completed()" in result.stderr
