"""Los ejercicios del README: cada solución de soluciones/ hace lo que pide."""

import asyncio
import re
import shutil
from datetime import datetime

import pytest

from tests.helpers import ROOT, eventually, migrated_home, run_script


@pytest.mark.server
def test_exercise_1_cron_every_two_minutes_schedules_runs_two_minutes_apart(
    real_server,
):
    script = "soluciones/serve_iris_cada_dos_minutos.py"
    with real_server.serving(script):
        found = real_server.deployment("iris-classification/iris-cada-dos-minutos")
        (schedule,) = found["schedules"]
        assert schedule["schedule"]["cron"] == "*/2 * * * *"
        runs = eventually(
            lambda: [
                run
                for run in real_server.deployment_runs(found["id"])
                if run["state_type"] == "SCHEDULED"
            ],
            lambda runs: len(runs) >= 3,
            what="tres corridas programadas de iris-cada-dos-minutos",
            timeout=60,
        )
    starts = sorted(datetime.fromisoformat(r["expected_start_time"]) for r in runs)
    gaps = {(b - a).total_seconds() for a, b in zip(starts, starts[1:], strict=False)}
    assert gaps == {120.0}
    assert all(start.minute % 2 == 0 and start.second == 0 for start in starts)


@pytest.mark.harness
@pytest.mark.slow
def test_exercise_2_seed_burns_only_the_milanesa(prefect_server, monkeypatch, tmp_path):
    import run_restaurant as r
    from cocina import TIME_SCALE_VARIABLE, Cocina
    from mesas import open_restaurant

    result = run_script(
        "soluciones/semilla_que_quema.py", home=migrated_home(tmp_path), timeout=60
    )
    assert result.returncode == 0, result.stderr
    seed = int(re.search(r"--semilla (\d+)", result.stdout)[1])

    monkeypatch.setenv(TIME_SCALE_VARIABLE, "0")

    async def serve_ana() -> dict:
        await open_restaurant()
        from grupo import SAMPLE_PARTY

        return await r.serve_party(SAMPLE_PARTY, Cocina(prob_quemar=0.5, semilla=seed))

    served = asyncio.run(serve_ana())
    assert served["no_servidos"] == ["Milanesa con papas"]
    assert served["servidos"] == ["Empanadas", "Limonada"]
    assert served["total_centavos"] == 650 + 375


@pytest.mark.harness
@pytest.mark.slow
def test_exercise_3_a_table_of_ten_seats_the_familia_perez(prefect_server, tmp_path):
    lesson = tmp_path / "restaurant"
    shutil.copytree(ROOT / "restaurant", lesson)
    shutil.copy(ROOT / "soluciones" / "mesas.csv", lesson / "mesas.csv")
    result = run_script(
        str(lesson / "turno.py"),
        home=tmp_path / "prefect",
        api_url=prefect_server,
        RESTAURANTE_ESCALA_TIEMPO="0",
        timeout=240,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"^Familia Pérez: mesa 6, \$12\.00$", result.stdout, re.M)
    assert "No atendido" not in result.stdout


@pytest.mark.harness
@pytest.mark.slow
def test_exercise_4_pancakes_join_the_menu_and_the_bill(prefect_server, tmp_path):
    lesson = tmp_path / "restaurant"
    shutil.copytree(ROOT / "restaurant", lesson)
    shutil.copy(ROOT / "soluciones" / "menu.csv", lesson / "menu.csv")
    pancakes = "Panqueques con dulce de leche"
    # El formulario y los mensajes ofrecen los postres del menú
    refused = run_script(
        str(lesson / "paso6_postre.py"), "--postre", "Ravioles", home=tmp_path / "p"
    )
    assert refused.returncode == 2
    assert (
        f"Se puede elegir Flan con dulce de leche, Helado de chocolate, {pancakes}"
        in (refused.stderr)
    )
    result = run_script(
        str(lesson / "paso6_postre.py"),
        "--postre",
        pancakes,
        home=tmp_path / "prefect",
        api_url=prefect_server,
        RESTAURANTE_ESCALA_TIEMPO="0",
        timeout=240,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(rf"^ *{pancakes} +1 +600 +600$", result.stdout, re.M), (
        result.stdout
    )
    assert result.stdout.endswith("Total: $31.15\n")


def test_exercise_5_the_first_test_passes_and_catches_a_wrong_price(monkeypatch):
    import importlib.util

    import paso1_historia
    from menu import MENU

    path = ROOT / "soluciones" / "test_cobrar_limonadas.py"
    spec = importlib.util.spec_from_file_location("test_cobrar_limonadas", path)
    solution = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(solution)
    solution.test_two_lemonades_cost_seven_fifty()
    # Con otro precio de la limonada, la prueba de la solución falla
    prices = MENU["precio_centavos"].copy()
    prices["Limonada"] = 400
    monkeypatch.setattr(paso1_historia, "MENU", MENU.assign(precio_centavos=prices))
    with pytest.raises(AssertionError):
        solution.test_two_lemonades_cost_seven_fifty()


@pytest.mark.harness
@pytest.mark.slow
def test_exercise_6_a_task_of_your_own_counts_the_training_flowers(
    prefect_server, prefect_client
):
    import importlib.util

    from tests.helpers import task_runs

    path = ROOT / "soluciones" / "iris_con_conteo.py"
    spec = importlib.util.spec_from_file_location("iris_con_conteo", path)
    solution = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(solution)
    state = solution.iris_with_counts(return_state=True)
    result = state.result()
    # 150 flores, 50 por especie; el 20 % queda para la prueba, en proporción
    assert result["conteo"] == {"setosa": 40, "versicolor": 40, "virginica": 40}
    names = [
        t.name.rsplit("-", 1)[0]
        for t in task_runs(prefect_client, state.state_details.flow_run_id, 4)
    ]
    assert names == ["Load Iris Dataset", "Split Data", "Count Species", "Train Model"]


@pytest.mark.harness
@pytest.mark.slow
def test_exercise_7_the_commit_hook_announces_only_a_confirmed_charge(
    prefect_server, tmp_path
):
    lesson = tmp_path / "restaurant"
    shutil.copytree(ROOT / "restaurant", lesson)
    shutil.copy(ROOT / "soluciones" / "cobro.py", lesson / "cobro.py")

    def serve(*args: str):
        return run_script(
            str(lesson / "paso8_cobro.py"), "--comanda", "5", *args,
            home=tmp_path / "prefect", api_url=prefect_server,
            RESTAURANTE_ESCALA_TIEMPO="0",
        )  # fmt: skip

    announced = "Comanda 5 cobrada: cuenta cerrada."
    jammed = serve("--atasco", "1")
    assert jammed.returncode == 1, jammed.stderr
    assert "Se trabó la impresora" in jammed.stderr
    assert announced not in jammed.stderr + jammed.stdout
    charged = serve()
    assert charged.returncode == 0, charged.stderr
    assert announced in charged.stderr
