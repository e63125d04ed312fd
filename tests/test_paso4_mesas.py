"""El restaurante, paso 4 (restaurant/paso4_mesas.py): una mesa para cada grupo."""

import asyncio

import pytest
from prefect import get_client

import paso4_mesas as paso4
from mesas import release_table, take_table
from tests.helpers import occupied_tables


async def hold(mesa: int):
    """Ocupar una mesa fuera de toda corrida, con el mismo código que el restaurante."""
    async with get_client() as client:
        return await take_table(client, mesa)


@pytest.mark.harness
@pytest.mark.slow
def test_party_takes_the_smallest_free_table_and_gives_it_back(
    restaurant, harness_api, no_waits
):
    # La mesa 3 (4 asientos) está ocupada: Ana, con 3, va a la siguiente
    lease = asyncio.run(hold(3))
    try:
        assert occupied_tables(harness_api) == {"mesa-3": 1}
        result = asyncio.run(paso4.serve_party("Ana", 3, ["Limonada"]))
    finally:
        asyncio.run(release_table(lease))
    assert result["mesa"] == 4
    assert result["total_centavos"] == 375
    assert result["sentado"] < result["liberado"]
    assert occupied_tables(harness_api) == {}


@pytest.mark.harness
@pytest.mark.slow
def test_a_party_that_fails_after_sitting_still_frees_its_table(
    restaurant, harness_api, no_waits, monkeypatch
):
    async def broken_order(pedido):
        raise RuntimeError("se cayó la libreta del mozo")

    monkeypatch.setattr(paso4.take_order, "fn", broken_order)
    state = asyncio.run(paso4.serve_party("Ana", 3, ["Limonada"], return_state=True))
    assert state.is_failed()
    assert "se cayó la libreta del mozo" in state.message
    assert occupied_tables(harness_api) == {}
