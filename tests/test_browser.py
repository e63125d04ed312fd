"""La UI real en Chromium: lo que quien aprende busca, está donde el README dice.

Sin Chromium o sin playwright estas pruebas se saltan con el motivo; con CI=true
fallan, para que CI nunca pase saltándolas.
"""

import json
import re
from datetime import UTC, datetime, timedelta

import pytest

import buscar_modelo
from herramientas import navegador
from tests.helpers import (
    chromium_browser,
    eventually,
    prefect_cli,
    quick_start_link,
    run_script,
)

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def browser():
    """Abrir Chromium una sola vez para este módulo (todas sus pruebas lo usan)."""
    with chromium_browser() as chromium:
        yield chromium


def open_page(page, url: str, tab: str | None = None):
    page.goto(url)
    page.wait_for_load_state("networkidle")
    if tab:
        page.get_by_role("tab", name=tab).click()
    return page


def visible(page, text: str):
    return page.get_by_text(text).filter(visible=True).first


@pytest.mark.server
def test_quick_start_link_opens_its_run_once_the_server_is_open(
    page, real_server, quick_start
):
    run_id = quick_start_link(quick_start["salida"])[2]
    # Quien aprende abre el enlace tal cual (puerto 4200); las pruebas, su puerto
    open_page(page, f"{real_server.url}/v2/runs/flow-run/{run_id}")
    visible(page, "Exactitud (accuracy) en los datos de prueba: 0.967").wait_for()
    visible(page, "Switch to V1 UI").wait_for()  # la interfaz de las capturas


@pytest.mark.server
def test_dashboard_counts_the_runs_until_the_current_minute(page, real_server):
    # Como el Event Feed, el Dashboard cuenta hasta el comienzo del minuto en
    # curso: una corrida de este minuto aparece cuando cambia el minuto. En vez de
    # esperar a que cambie, la prueba fija el reloj de la página: primero en el
    # minuto de la corrida más nueva (no cuenta), después dos minutos más tarde
    newest = max(
        datetime.fromisoformat(run["expected_start_time"])
        for run in real_server.post("/flow_runs/filter", {})
    )

    def count_at(clock: datetime) -> tuple[str, str]:
        minute = clock.replace(second=0, microsecond=0)
        before = {"expected_start_time": {"before_": minute.isoformat()}}
        expected = real_server.post("/flow_runs/count", {"flow_runs": before})
        page.clock.set_fixed_time(clock)
        open_page(page, f"{real_server.url}/v2/dashboard")
        visible(page, "Flow Runs").wait_for()

        def shown() -> str:
            # Sin corridas en el rango, la tarjeta no muestra "N total"
            found = re.search(r"Flow Runs\s+(\d+ total)", page.inner_text("body"))
            return found[1] if found else "0 total"

        return eventually(
            shown,
            lambda text: text == f"{expected} total",
            what=f"que el Dashboard, con el reloj en {clock}, diga {expected} total",
            timeout=30,
            every=0.5,
        ), expected

    _, without_newest = count_at(newest)
    _, with_all = count_at(newest + timedelta(minutes=2))
    assert with_all > without_newest  # la más nueva cuenta al cambiar el minuto
    assert with_all >= 1  # al menos la del inicio rápido


@pytest.mark.server
def test_addresses_without_v2_still_serve_the_older_interface(page, real_server):
    open_page(page, f"{real_server.url}/runs")
    visible(page, "Switch to V2 UI").wait_for()
    assert page.url == f"{real_server.url}/runs"
    open_page(page, f"{real_server.url}/v2/runs")
    visible(page, "Switch to V1 UI").wait_for()


@pytest.mark.server
def test_runs_list_shows_the_iris_run(page, real_server, lesson_runs):
    open_page(page, f"{real_server.url}/v2/runs")
    visible(page, lesson_runs["iris"]["name"]).wait_for()
    visible(page, "iris-classification").wait_for()


@pytest.mark.server
def test_iris_run_page_shows_its_tasks_logs_and_artifacts(
    page, real_server, lesson_runs
):
    url = f"{real_server.url}/v2/runs/flow-run/{lesson_runs['iris']['id']}"
    open_page(page, url, tab="Logs")
    visible(page, "Exactitud (accuracy) en los datos de prueba: 0.967").wait_for()
    open_page(page, url, tab="Task Runs")
    for name in ("Load Iris Dataset", "Split Data", "Train Model"):
        visible(page, name).wait_for()
    open_page(page, url, tab="Artifacts")
    visible(page, "iris-metricas").wait_for()
    visible(page, "iris-matriz-confusion").wait_for()


@pytest.fixture(scope="module")
def search_runs(real_server) -> list[str]:
    """La búsqueda de modelos dos veces, como en el README: la 2.ª, de la caché."""
    ids = []
    for extra in (["--recalcular"], []):
        result = run_script(
            "introduction/buscar_modelo.py",
            "--repeticiones",
            "3",
            *extra,
            home=real_server.home,
            api_url=real_server.api_url,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        ids.append(quick_start_link(result.stdout + result.stderr)[2])
    # Como dice el README: la segunda vez, las 9 tasks terminan en Cached
    assert result.stderr.count("Finished in state Cached(type=COMPLETED)") == 9
    return ids


@pytest.mark.server
def test_search_run_pages_show_one_task_per_candidate_and_then_cached(
    page, real_server, search_runs
):
    first, second = (f"{real_server.url}/v2/runs/flow-run/{i}" for i in search_runs)
    open_page(page, first, tab="Task Runs")
    visible(page, "(9 Completed)").wait_for()
    for candidato in buscar_modelo.CANDIDATOS:
        visible(page, f"Evaluar {buscar_modelo.describe(candidato)}").wait_for()
    open_page(page, second, tab="Task Runs")
    visible(page, "(9 Cached)").wait_for()
    assert page.get_by_text("Cached", exact=True).filter(visible=True).count() >= 5
    open_page(
        page,
        navegador.artifact_url(real_server, "iris-busqueda-modelos", search_runs[0]),
    )
    visible(page, "exactitud media").wait_for()  # la tabla, con sus columnas
    visible(page, "Gana ").wait_for()


@pytest.mark.server
def test_restaurant_run_page_lists_its_subflows(page, real_server, lesson_runs):
    url = f"{real_server.url}/v2/runs/flow-run/{lesson_runs['restaurante']['id']}"
    open_page(page, url, tab="Subflow Runs")
    for i, dish in enumerate(["Empanadas", "Milanesa con papas", "Limonada"], 1):
        visible(page, f"preparar-Ana-{i}-{dish}").wait_for()


def test_terminal_capture_renders_real_output_to_png(browser, tmp_path):
    page = browser.new_page()
    path = tmp_path / "terminal.png"
    navegador.terminal_png(page, "echo hola", "\x1b[32mhola\x1b[0m", path)
    page.close()
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    width = int.from_bytes(header[16:20], "big")
    assert width > 500


@pytest.mark.server
def test_event_feed_shows_an_arrival_what_it_triggered_and_stops_at_the_minute(
    page, real_server
):
    resource = "restaurante.persona.prueba-del-feed"
    grupo = {"nombre": "Feed", "personas": 2, "pedido": ["Limonada"]}
    with real_server.serving(
        "restaurant/serve_restaurant.py", RESTAURANTE_ESCALA_TIEMPO="0"
    ):
        found = real_server.deployment("atender-persona/llegadas")
        emitted = prefect_cli(
            real_server,
            *("event", "emit", "restaurante.persona.llegada"),
            # Con el postre elegido: sin él, la corrida esperaría la respuesta
            *("--resource-id", resource),
            *("--payload", json.dumps({"grupo": grupo, "postre": "ninguno"})),
        )
        assert emitted.returncode == 0, emitted.stderr
        # Se espera a que la corrida termine: si no, quedaría con la mesa ocupada
        eventually(
            lambda: real_server.deployment_runs(found["id"], name="atender-Feed"),
            lambda runs: [run["state_name"] for run in runs] == ["Completed"],
            what="una sola corrida atender-Feed, en Completed",
            timeout=120,
            every=0.5,
        )
    # Con el rango de la captura (desde el evento) y los dos prefijos del README,
    # se ven la llegada y, debajo, los tres pasos de la automatización
    open_page(page, navegador.event_feed_url(real_server, resource))
    visible(page, "Restaurante Persona Llegada").wait_for()
    visible(page, "prueba-del-feed").wait_for()
    for step in (
        "Automation Triggered",
        "Automation Action Triggered",
        "Automation Action Executed",
    ):
        visible(page, step).wait_for()

    # Sin rango, la página pide los eventos hasta el comienzo del minuto en
    # curso: lo que dice el README sobre el evento que "no aparece" todavía
    with page.expect_request(lambda r: r.url.endswith("/api/events/filter")) as sent:
        page.goto(f"{real_server.url}/v2/events")
    until = datetime.fromisoformat(
        json.loads(sent.value.post_data)["filter"]["occurred"]["until"]
    )
    assert (until.second, until.microsecond) == (0, 0)
    assert datetime.now(UTC) - until < timedelta(minutes=1)


@pytest.mark.server
def test_cron_deployment_page_shows_its_schedule_and_upcoming_runs(page, real_server):
    with real_server.serving("introduction/serve_iris.py"):
        found = real_server.deployment("iris-classification/iris-diario")
        eventually(
            lambda: real_server.deployment_runs(found["id"]),
            lambda runs: any(run["state_type"] == "SCHEDULED" for run in runs),
            what="que el programador cree las próximas corridas de iris-diario",
            timeout=60,
        )
        url = f"{real_server.url}/v2/deployments/deployment/{found['id']}"
        open_page(page, url)
        visible(page, "At 08:00 AM, Monday through Friday").wait_for()
        open_page(page, url, tab="Upcoming")
        visible(page, "Scheduled").wait_for()


@pytest.mark.server
def test_variables_page_shows_each_variable_with_its_value(page, real_server):
    # "la página Variables muestra cada variable con su valor" (capítulo 10)
    set_it = prefect_cli(
        real_server, "variable", "set", "atasco-impresora", "0.35", "--overwrite"
    )
    assert set_it.returncode == 0, set_it.stdout + set_it.stderr
    try:
        open_page(page, f"{real_server.url}/v2/variables")
        row = page.get_by_role("row").filter(has_text="atasco-impresora")
        row.wait_for()
        assert "0.35" in row.inner_text()
        visible(page, "Variables").wait_for()  # en el menú de la izquierda
    finally:
        prefect_cli(real_server, "--no-prompt", "variable", "unset", "atasco-impresora")
