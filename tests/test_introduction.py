"""Pruebas de introduction/run_iris.py: las tasks solas, el flow y el script."""

import re

import numpy as np
import pytest
from prefect.client.schemas.filters import (
    ArtifactFilter,
    ArtifactFilterFlowRunId,
    FlowFilter,
    FlowFilterName,
    LogFilter,
    LogFilterFlowRunId,
)
from sklearn.datasets import load_iris

import run_iris
from herramientas.documentos import docs_text
from tests.helpers import ROOT, flush_logs, run_script, task_runs

# ---------------------------------------------------------------------------
# Nivel rápido: la lógica de cada task con .fn(), sin servidor
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dataset() -> dict:
    return run_iris.get_data_from_sklearn.fn()


@pytest.fixture(scope="module")
def split(dataset: dict) -> tuple:
    return run_iris.split_data.fn(dataset)


@pytest.fixture(scope="module")
def metrics(split: tuple) -> dict:
    return run_iris.train_model.fn(*split)


def test_dataset_has_150_flowers_with_4_measures_and_3_species(dataset):
    assert set(dataset) == {"data", "target"}
    assert dataset["data"].shape == (150, 4)
    assert dataset["target"].shape == (150,)
    assert np.bincount(dataset["target"]).tolist() == [50, 50, 50]


def test_species_names_match_scikit_learn():
    assert run_iris.SPECIES == list(load_iris().target_names)


def test_split_keeps_a_fifth_for_testing(split):
    X_train, X_test, y_train, y_test = split
    assert X_train.shape == (120, 4) and X_test.shape == (30, 4)
    assert len(y_train) == 120 and len(y_test) == 30


def test_split_is_stratified(split):
    _, _, y_train, y_test = split
    assert np.bincount(y_train).tolist() == [40, 40, 40]
    assert np.bincount(y_test).tolist() == [10, 10, 10]


def test_split_is_deterministic(dataset, split):
    again = run_iris.split_data.fn(dataset)
    for first, second in zip(split, again, strict=True):
        np.testing.assert_array_equal(first, second)


def test_model_accuracy_on_held_out_data_is_at_least_0_9(metrics):
    assert metrics["accuracy"] >= 0.9
    matrix = np.array(metrics["confusion_matrix"])
    assert matrix.shape == (3, 3)
    assert matrix.sum() == 30
    # La exactitud es la diagonal de la matriz de confusión sobre el total
    assert metrics["accuracy"] == pytest.approx(np.trace(matrix) / 30)


def test_model_prints_accuracy_and_each_species(split, capsys):
    run_iris.train_model.fn(*split)
    out = capsys.readouterr().out
    assert "Exactitud (accuracy) en los datos de prueba: 0.9" in out
    for species in run_iris.SPECIES:
        assert f"{species}: precisión" in out


def test_metrics_table_has_one_row_per_species(metrics):
    table = run_iris.metrics_table(metrics)
    assert [row["especie"] for row in table] == run_iris.SPECIES
    assert [row["muestras"] for row in table] == [10, 10, 10]
    for row in table:
        assert 0 <= row["precisión"] <= 1 and 0 <= row["f1"] <= 1
    # setosa se separa perfectamente de las otras dos especies
    assert table[0]["precisión"] == table[0]["exhaustividad"] == 1.0


def test_confusion_markdown_labels_rows_and_columns_with_species(metrics):
    text = run_iris.confusion_markdown(metrics)
    assert "| real \\ predicha | setosa | versicolor | virginica |" in text
    for species, row in zip(run_iris.SPECIES, metrics["confusion_matrix"], strict=True):
        assert f"| {species} | " + " | ".join(map(str, row)) + " |" in text
    assert f"**{metrics['accuracy']:.3f}**" in text


# ---------------------------------------------------------------------------
# Nivel de integración: el flow en el servidor de pruebas de la sesión
# ---------------------------------------------------------------------------


def _flow_run_id(state):
    return state.state_details.flow_run_id


@pytest.mark.harness
def test_flow_returns_metrics_and_records_its_three_tasks(prefect_client):
    state = run_iris.iris_classification(return_state=True)
    assert state.is_completed()
    metrics = state.result()
    assert metrics["accuracy"] >= 0.9

    runs = task_runs(prefect_client, _flow_run_id(state), expected=3)
    assert [tr.name.rsplit("-", 1)[0] for tr in runs] == [
        "Load Iris Dataset",
        "Split Data",
        "Train Model",
    ]
    assert all(tr.state.is_completed() for tr in runs)
    assert runs[0].tags == ["data_loading"]


@pytest.mark.harness
def test_flow_attaches_its_artifacts_to_its_run(prefect_client):
    state = run_iris.iris_classification(return_state=True)
    metrics = state.result()
    artifacts = prefect_client.read_artifacts(
        artifact_filter=ArtifactFilter(
            flow_run_id=ArtifactFilterFlowRunId(any_=[_flow_run_id(state)])
        )
    )
    by_key = {artifact.key: artifact for artifact in artifacts}
    assert set(by_key) == {"iris-metricas", "iris-matriz-confusion"}
    assert by_key["iris-metricas"].type == "table"
    assert "virginica" in by_key["iris-metricas"].data
    assert by_key["iris-matriz-confusion"].type == "markdown"
    assert by_key["iris-matriz-confusion"].data == run_iris.confusion_markdown(metrics)


@pytest.mark.harness
def test_prints_become_logs_of_the_train_task(prefect_client):
    state = run_iris.iris_classification(return_state=True)
    flush_logs()
    logs = prefect_client.read_logs(
        log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[_flow_run_id(state)]))
    )
    accuracy_logs = [log for log in logs if log.message.startswith("Exactitud")]
    assert len(accuracy_logs) == 1
    train_run = prefect_client.read_task_run(accuracy_logs[0].task_run_id)
    assert train_run.name.startswith("Train Model")


@pytest.mark.harness
def test_task_prints_become_logs_only_with_log_prints(prefect_client):
    from prefect import flow, task

    @task
    def say(text: str) -> None:
        print(text)

    @flow
    def quiet() -> None:
        say("un print sin log_prints")

    @flow(log_prints=True)
    def loud() -> None:
        say("un print con log_prints")

    messages = {}
    for run in (quiet, loud):
        state = run(return_state=True)
        flush_logs()
        logs = prefect_client.read_logs(
            log_filter=LogFilter(
                flow_run_id=LogFilterFlowRunId(any_=[_flow_run_id(state)])
            )
        )
        messages[run.name] = [log.message for log in logs]
    assert "un print sin log_prints" not in messages["quiet"]
    assert "un print con log_prints" in messages["loud"]


class FlakyLoader:
    """Un load_iris que falla las primeras `failures` veces que se lo llama."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.calls = 0

    def __call__(self):
        self.calls += 1
        if self.calls <= self.failures:
            raise ConnectionError(f"fallo simulado número {self.calls}")
        return load_iris()


@pytest.mark.harness
def test_flow_retries_until_the_third_attempt_succeeds(monkeypatch, prefect_client):
    loader = FlakyLoader(failures=2)
    monkeypatch.setattr(run_iris, "load_iris", loader)
    fast_flow = run_iris.iris_classification.with_options(retry_delay_seconds=0)

    state = fast_flow(return_state=True)

    assert state.is_completed()
    assert state.result()["accuracy"] >= 0.9
    assert loader.calls == 3
    assert prefect_client.read_flow_run(_flow_run_id(state)).run_count == 3
    # Entre un intento y el siguiente, el flow espera en AwaitingRetry
    history = [s.name for s in prefect_client.read_flow_run_states(_flow_run_id(state))]
    assert history == [
        "Pending",
        "Running",
        "AwaitingRetry",
        "Running",
        "AwaitingRetry",
        "Running",
        "Completed",
    ]


@pytest.mark.harness
def test_flow_that_keeps_failing_ends_failed_after_4_attempts(
    monkeypatch, prefect_client
):
    loader = FlakyLoader(failures=99)
    monkeypatch.setattr(run_iris, "load_iris", loader)
    fast_flow = run_iris.iris_classification.with_options(retry_delay_seconds=0)

    state = fast_flow(return_state=True)

    assert state.is_failed()
    assert loader.calls == 4  # el intento original y los 3 reintentos
    flow_run = prefect_client.read_flow_run(_flow_run_id(state))
    assert flow_run.run_count == 4
    with pytest.raises(ConnectionError, match="fallo simulado número 4"):
        state.result()


# ---------------------------------------------------------------------------
# Los scripts, como los ejecuta quien aprende
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def script_output(quick_start) -> str:
    """Lo que mostró run_iris.py en el inicio rápido, con el servidor temporal."""
    return quick_start["salida"]


@pytest.mark.server
def test_script_runs_on_a_temporary_server_and_prints_task_runs(script_output):
    assert "Starting temporary server" in script_output
    for name in ("Load Iris Dataset", "Split Data", "Train Model"):
        assert f"Task run '{name}-" in script_output
    assert "Exactitud (accuracy) en los datos de prueba: 0.967" in script_output
    assert "Finished in state Completed()" in script_output


@pytest.mark.server
def test_script_says_where_the_temporary_run_was_saved(quick_start):
    database = quick_start["home"] / "prefect.db"
    assert database.is_file()
    assert f"La corrida quedó guardada en {database}." in quick_start["salida"]
    assert "abre `prefect server start`" in quick_start["salida"]


@pytest.mark.server
def test_readme_shows_the_note_of_the_quick_start(quick_start):
    readme = docs_text()
    shown = readme.split("**Qué pasó en esa primera ejecución.**")[1]
    block = shown.split("```text\n")[1].split("```")[0]
    real = block.replace(
        "/home/ana/.prefect/prefect.db", str(quick_start["home"] / "prefect.db")
    )
    assert real in quick_start["salida"]


def test_note_names_the_database_only_when_it_is_a_file(monkeypatch):
    from prefect.settings import (
        PREFECT_API_URL,
        PREFECT_SERVER_DATABASE_CONNECTION_URL,
        temporary_settings,
    )

    secret = "postgresql+asyncpg://ana:clave-secreta@127.0.0.1:5432/prefect"
    with temporary_settings(
        {PREFECT_SERVER_DATABASE_CONNECTION_URL: secret},
        restore_defaults={PREFECT_API_URL},  # sin servidor: el temporal
    ):
        note = run_iris.temporary_server_note()
    assert "clave-secreta" not in note
    assert "PREFECT_SERVER_DATABASE_CONNECTION_URL" in note
    with temporary_settings({PREFECT_API_URL: "http://127.0.0.1:4200/api"}):
        assert run_iris.temporary_server_note() is None


@pytest.mark.server
def test_learner_run_gets_no_telemetry_error(script_output):
    # Sin PREFECT_SERVER_ANALYTICS_ENABLED en el entorno: lo apaga prefect.toml
    assert "telemetry" not in script_output.lower()


def test_project_settings_file_is_read_from_the_repository_root(tmp_path):
    result = run_script(
        "-m",
        "prefect",
        "config",
        "view",
        "--show-sources",
        home=tmp_path,
        unset=["PREFECT_SERVER_ANALYTICS_ENABLED"],
        timeout=60,
    )
    shown = result.stdout
    assert result.returncode == 0, result.stderr
    assert "PREFECT_SERVER_ANALYTICS_ENABLED='False' (from prefect.toml)" in shown
    # Sin ningún servidor abierto, Prefect igual dice "connected to" con ui_url
    assert "you are connected to:\nhttp://127.0.0.1:4200/v2" in shown
    assert "PREFECT_UI_URL='http://127.0.0.1:4200/v2' (from prefect.toml)" in shown
    timeout = (
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS='90' (from prefect.toml)"
    )
    assert timeout in shown
    # El archivo le gana al perfil: si fijara la API, taparía `prefect config set`
    assert "PREFECT_API_URL" not in shown
    # El archivo le gana al perfil; una variable de entorno le gana al archivo
    set_in_profile = run_script(
        *("-m", "prefect", "config", "set", "PREFECT_UI_URL=http://perfil:1/v2"),
        home=tmp_path,
        timeout=60,
    )
    assert set_in_profile.returncode == 0, set_in_profile.stderr
    for env, expected in (
        ({}, "http://127.0.0.1:4200/v2"),
        (
            {"PREFECT_UI_URL": "http://entorno:2/v2"},
            "http://entorno:2/v2",
        ),
    ):
        shown = run_script(
            "-c",
            "from prefect.settings import get_current_settings as s; print(s().ui_url)",
            home=tmp_path,
            timeout=60,
            **env,
        )
        assert shown.stdout.strip() == expected, shown.stderr
    project_file = (ROOT / "prefect.toml").read_text(encoding="utf-8")
    assert not re.search(r"(?m)^\s*(\[api\]|api_url\s*=|\[api\.)", project_file)


def _normalized(line: str) -> str:
    """Quitar de una línea de log lo que cambia en cada corrida."""
    line = re.sub(r"^[\d:.]+ \| \w+ +\| ", "", line)  # hora y nivel
    line = re.sub(r"Flow run '[a-z]+-[a-z]+'", "Flow run 'NOMBRE'", line)
    line = re.sub(r"flow run '[a-z]+-[a-z]+'", "flow run 'NOMBRE'", line)
    return re.sub(r"-[0-9a-f]{3}' - ", "-XXX' - ", line)


@pytest.mark.server
def test_readme_terminal_output_matches_the_real_output(script_output):
    readme = docs_text()
    block = readme.split("En la terminal verás")[1].split("```text\n")[1]
    expected = [
        _normalized(line)
        for line in block.split("```")[0].splitlines()
        if "View at" not in line  # solo aparece con prefect server start
    ]
    real = [_normalized(line) for line in script_output.splitlines()]
    real = [line for line in real if line in expected]
    assert real == expected


@pytest.mark.harness
def test_importing_the_module_starts_no_flow_run(prefect_server, tmp_path):
    from prefect import get_client

    iris = FlowFilter(name=FlowFilterName(any_=["iris-classification"]))
    with get_client(sync_client=True) as client:
        before = client.count_flow_runs(flow_filter=iris)
        result = run_script(
            "-c", "import introduction.run_iris", home=tmp_path, api_url=prefect_server
        )
        after = client.count_flow_runs(flow_filter=iris)
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert after == before


def test_script_whose_server_was_closed_says_it_cannot_reach_it(tmp_path):
    from herramientas.procesos import free_port

    # El perfil todavía apunta a un servidor que ya no está abierto
    api = f"http://127.0.0.1:{free_port()}/api"
    result = run_script("introduction/run_iris.py", home=tmp_path, api_url=api)
    assert result.returncode == 1
    line = f"RuntimeError: Failed to reach API at {api}/"
    assert line in result.stderr
    # El README muestra esa misma línea, con la dirección de `prefect server start`
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert line.replace(api, "http://127.0.0.1:4200/api") in readme
