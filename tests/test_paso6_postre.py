"""El restaurante, paso 6 (restaurant/paso6_postre.py): el postre."""

import asyncio

import pytest

import paso6_postre as paso6
from cocina import Cocina
from linea_de_comandos import NO_UI_TO_ASK


def test_asking_without_a_server_is_refused_before_starting(capsys, monkeypatch):
    monkeypatch.delenv("PREFECT_API_URL", raising=False)
    assert paso6.main(["--postre", "preguntar"]) == 2
    shown = capsys.readouterr()
    assert shown.err == NO_UI_TO_ASK + "\n"
    assert shown.out == ""


@pytest.mark.harness
@pytest.mark.slow
def test_a_dessert_chosen_in_advance_is_cooked_brought_and_billed(restaurant, no_waits):
    grupo = {"nombre": "Ana", "personas": 2, "pedido": ["Ravioles"]}
    result = asyncio.run(
        paso6.serve_party(grupo, Cocina(prob_quemar=0), "flan con dulce de leche")
    )
    assert result["servidos"] == ["Ravioles", "Flan con dulce de leche"]
    rows = result["cuenta"].set_index("plato")["subtotal_centavos"].to_dict()
    assert rows == {"Ravioles": 1200, "Flan con dulce de leche": 550}
    assert result["total_centavos"] == 1200 + 550
