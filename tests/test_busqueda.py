"""Pruebas de introduction/buscar_modelo.py: candidatos, caché, hilos y Dask."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

import pytest
from prefect import flow, task
from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId
from prefect.settings import PREFECT_TASKS_REFRESH_CACHE, temporary_settings
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import RepeatedStratifiedKFold, cross_val_score

import buscar_modelo
from herramientas.cluster_dask import DaskCluster
from herramientas.documentos import docs_text
from tests.helpers import (
    ROOT,
    eventually,
    finished_evaluations,
    migrated_home,
    run_script,
    task_runs,
)

# ---------------------------------------------------------------------------
# Nivel rápido: los candidatos y cada task con .fn(), sin servidor
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def datos() -> dict:
    return buscar_modelo.load_dataset.fn()


def test_dataset_is_the_150_iris_flowers(datos):
    assert datos["data"].shape == (150, 4)
    assert sorted(set(datos["target"].tolist())) == [0, 1, 2]


def test_lesson_candidates_are_valid_and_distinct():
    buscar_modelo.check_candidates(buscar_modelo.CANDIDATOS)
    names = [buscar_modelo.describe(c) for c in buscar_modelo.CANDIDATOS]
    assert len(set(names)) == len(names) == 8
    # Lo que dice el README: 250 entrenamientos por candidato (5 partes × 50)
    assert buscar_modelo.FOLDS * buscar_modelo.REPETICIONES == 250
    assert names[0] == "regresion_logistica C=0.1"
    assert "bosque n_estimators=20 max_depth=3" in names


def test_each_model_gets_its_parameters_and_a_fixed_random_state():
    forest = buscar_modelo.build_model(
        {"modelo": "bosque", "n_estimators": 7, "max_depth": 2}
    )
    assert type(forest).__name__ == "RandomForestClassifier"
    assert (forest.n_estimators, forest.max_depth) == (7, 2)
    assert forest.random_state == buscar_modelo.RANDOM_STATE
    knn = buscar_modelo.build_model({"modelo": "k_vecinos", "n_neighbors": 9})
    assert knn.n_neighbors == 9 and "random_state" not in knn.get_params()


@pytest.mark.parametrize(
    ("candidatos", "expected"),
    [
        ([], "al menos un candidato; llegó []"),
        ("svm", "al menos un candidato; llegó 'svm'"),
        ([{"modelo": "xgboost"}], "los modelos son: regresion_logistica, k_vecinos"),
        ([{"C": 1.0}], "El candidato 1 ({'C': 1.0}) no nombra un modelo"),
        (
            [{"modelo": "svm", "C": 1.0}, {"modelo": "bosque", "arboles": 5}],
            "El candidato 2 (bosque) no tiene el parámetro 'arboles'; se puede "
            "ajustar: n_estimators, max_depth.",
        ),
        (
            [{"modelo": "bosque", "n_estimators": 0}],
            "n_estimators debe ser un entero entre 1 y 500; llegó 0.",
        ),
        (
            [{"modelo": "k_vecinos", "n_neighbors": 2.5}],
            "n_neighbors debe ser un entero entre 1 y 100; llegó 2.5.",
        ),
        (
            [{"modelo": "svm", "C": True}],
            "C debe ser un número entre 0.001 y 1000; llegó True.",
        ),
        (
            [{"modelo": "svm", "C": float("nan")}],
            "C debe ser un número entre 0.001 y 1000; llegó nan.",
        ),
        (
            [{"modelo": "svm", "C": "1"}],
            "C debe ser un número entre 0.001 y 1000; llegó '1'.",
        ),
        (
            [
                {"modelo": "svm", "C": 1.0},
                {"modelo": "arbol"},
                {"modelo": "svm", "C": 1},
            ],
            "Los candidatos 1 y 3 son el mismo (svm C=1",
        ),
    ],
)
def test_bad_candidate_lists_are_rejected_in_spanish(candidatos, expected):
    with pytest.raises(ValueError) as error:
        buscar_modelo.check_candidates(candidatos)
    assert expected in str(error.value)


def test_candidate_score_is_repeated_cross_validation_of_its_model(datos):
    result = buscar_modelo.evaluate_candidate.fn(
        {"modelo": "regresion_logistica", "C": 10.0}, datos, 2
    )
    # La misma cuenta hecha a mano con scikit-learn: 5 partes × 2 repeticiones
    cv = RepeatedStratifiedKFold(n_splits=5, n_repeats=2, random_state=42)
    X, y = load_iris(return_X_y=True)
    expected = cross_val_score(LogisticRegression(C=10.0, max_iter=1000), X, y, cv=cv)
    assert result["candidato"] == "regresion_logistica C=10.0"
    assert result["entrenamientos"] == 10
    assert result["exactitud"] == pytest.approx(expected.mean())
    assert result["desviacion"] == pytest.approx(expected.std())
    weaker = buscar_modelo.evaluate_candidate.fn(
        {"modelo": "regresion_logistica", "C": 0.001}, datos, 2
    )
    assert weaker["exactitud"] < result["exactitud"]  # el parámetro llega al modelo


def test_comparison_table_ranks_by_accuracy_then_by_stability():
    resultados = [
        {"candidato": "a", "exactitud": 0.9, "desviacion": 0.01},
        {"candidato": "b", "exactitud": 0.95, "desviacion": 0.05},
        {"candidato": "c", "exactitud": 0.95, "desviacion": 0.02},
    ]
    for r in resultados:
        r.update(entrenamientos=5, segundos=0.1)
    tabla = buscar_modelo.comparison_table(resultados)
    assert [(r["puesto"], r["candidato"]) for r in tabla] == [
        (1, "c"),
        (2, "b"),
        (3, "a"),
    ]


def free_local_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_dask_address_that_nobody_answers_names_it_and_how_to_start_one():
    address = f"tcp://127.0.0.1:{free_local_port()}"
    problem = buscar_modelo.dask_address_problem(address)
    assert f"Nadie responde en {address}" in problem
    assert "dask scheduler --host 127.0.0.1 --port" in problem
    assert "no es una dirección de Dask" in buscar_modelo.dask_address_problem(
        "127.0.0.1:8786"
    )


def test_command_line_rejects_impossible_numbers(capsys):
    for args in (["--repeticiones", "0"], ["--procesos", "0", "--dask"]):
        with pytest.raises(SystemExit) as exit_:
            buscar_modelo.parse_args(args)
        assert exit_.value.code == 2
    errors = capsys.readouterr().err
    assert "--repeticiones va de 1 a 100; llegó 0" in errors
    assert "--procesos y --hilos deben ser enteros mayores o iguales a 1" in errors
    assert buscar_modelo.parse_args(["--dask"]).procesos == 2


# ---------------------------------------------------------------------------
# El script sin servidor y con datos malos: mensajes en español, salida 1
# ---------------------------------------------------------------------------


def test_script_refuses_a_dask_address_nobody_answers(tmp_path):
    address = f"tcp://127.0.0.1:{free_local_port()}"
    result = run_script(
        "introduction/buscar_modelo.py",
        "--dask-direccion",
        address,
        home=tmp_path,
        api_url="http://127.0.0.1:9/api",  # no se usa: falla antes
    )
    assert result.returncode == 1
    # El mensaje del README, con el puerto de esta prueba
    readme = docs_text()
    shown = readme.split("Si nadie responde en la dirección")[1].split("```text\n")[1]
    port = address.rsplit(":", 1)[1]
    assert shown.split("```")[0].replace("8786", port) in result.stderr
    assert "Traceback" not in result.stdout + result.stderr


@pytest.mark.server
@pytest.mark.dask
def test_dask_without_a_server_starts_one_temporary_server_per_process(tmp_path):
    # Por qué el script pide `prefect server start`: un flow mínimo con Dask y sin
    # PREFECT_API_URL levanta tres servidores temporales (el suyo y uno por proceso)
    script = tmp_path / "cuadrados.py"
    script.write_text(
        "from prefect import flow, task\n"
        "from prefect_dask import DaskTaskRunner\n"
        "@task\n"
        "def square(x): return x * x\n"
        "runner = DaskTaskRunner(cluster_kwargs={'n_workers': 2})\n"
        "@flow(task_runner=runner)\n"
        "def squares(): return square.map([1, 2, 3, 4]).result()\n"
        "if __name__ == '__main__':\n"
        "    print(squares())\n",
        encoding="utf-8",
    )
    # Los tres comparten el PREFECT_HOME: con su base ya migrada, no compiten
    # por migrarla
    result = run_script(str(script), home=migrated_home(tmp_path / "prefect"))
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "[1, 4, 9, 16]" in output
    assert output.count("Starting temporary server") == 3


def test_script_with_dask_but_no_server_says_what_to_open(tmp_path):
    result = run_script("introduction/buscar_modelo.py", "--dask", home=tmp_path)
    assert result.returncode == 1
    assert "Dask necesita `prefect server start`: sin él, cada proceso" in result.stderr
    assert "prefect config set PREFECT_API_URL" in result.stderr
    assert "Traceback" not in result.stdout + result.stderr


# ---------------------------------------------------------------------------
# Integración: el flow en el servidor de pruebas, con hilos y caché
# ---------------------------------------------------------------------------

SMALL = [
    {"modelo": "regresion_logistica", "C": 0.37},
    {"modelo": "k_vecinos", "n_neighbors": 7},
    {"modelo": "arbol", "max_depth": 2},
]


@pytest.fixture
def fits(monkeypatch) -> list[str]:
    """Contar las validaciones cruzadas que de verdad se hacen (con hilos, todas
    corren en este proceso)."""
    done = []
    real = buscar_modelo.cross_val_score

    def counting(model, *args, **kwargs):
        done.append(type(model).__name__)
        return real(model, *args, **kwargs)

    monkeypatch.setattr(buscar_modelo, "cross_val_score", counting)
    return done


def states_by_name(client, flow_run_id, expected: int) -> dict[str, str]:
    runs = task_runs(client, flow_run_id, expected)
    assert len(runs) == expected
    # La carga se llama "Cargar Iris-" y tres letras; las demás, por su candidato
    return {
        "Cargar Iris"
        if run.name.startswith("Cargar Iris-")
        else run.name: run.state.name
        for run in runs
    }


@pytest.mark.harness
def test_search_maps_one_task_per_candidate_and_publishes_the_winner(
    prefect_client, fits
):
    state = buscar_modelo.search_models(SMALL, 1, return_state=True)
    result = state.result()
    states = states_by_name(prefect_client, state.state_details.flow_run_id, 4)
    evaluations = sorted(name for name in states if name.startswith("Evaluar"))
    assert evaluations == [
        "Evaluar arbol max_depth=2",
        "Evaluar k_vecinos n_neighbors=7",
        "Evaluar regresion_logistica C=0.37",
    ]
    assert len(fits) == 3
    # A la vez: la última en empezar empezó antes de que terminara la primera
    runs = task_runs(prefect_client, state.state_details.flow_run_id, 4)
    evaluations = [r for r in runs if r.name.startswith("Evaluar")]
    assert max(r.start_time for r in evaluations) < min(r.end_time for r in evaluations)
    table = result["tabla"]
    assert [row["puesto"] for row in table] == [1, 2, 3]
    assert result["ganador"] == table[0]["candidato"]
    assert table[0]["exactitud media"] == max(r["exactitud media"] for r in table)

    (artifact,) = prefect_client.read_artifacts(
        artifact_filter=ArtifactFilter(
            flow_run_id=ArtifactFilterFlowRunId(any_=[state.state_details.flow_run_id])
        )
    )
    assert artifact.key == "iris-busqueda-modelos"
    assert artifact.description.startswith(f"Gana {result['ganador']} con exactitud")
    # Una tabla se guarda como JSON: la misma tabla, fila por fila
    assert json.loads(artifact.data) == table


@pytest.mark.harness
def test_second_run_is_cached_and_a_changed_candidate_alone_runs_again(
    prefect_client, fits
):
    candidatos = [
        {"modelo": "svm", "C": 0.73},
        {"modelo": "k_vecinos", "n_neighbors": 11},
    ]
    first = buscar_modelo.search_models(candidatos, 1, return_state=True)
    assert len(fits) == 2
    second = buscar_modelo.search_models(candidatos, 1, return_state=True)
    assert len(fits) == 2  # ni una validación cruzada más
    assert second.result() == first.result()  # los mismos números, de la caché
    assert set(
        states_by_name(prefect_client, second.state_details.flow_run_id, 3).values()
    ) == {"Cached"}

    changed = [candidatos[0], {"modelo": "k_vecinos", "n_neighbors": 12}]
    third = buscar_modelo.search_models(changed, 1, return_state=True)
    assert fits[2:] == ["KNeighborsClassifier"]  # solo el candidato que cambió
    states = states_by_name(prefect_client, third.state_details.flow_run_id, 3)
    assert states == {
        "Cargar Iris": "Cached",
        "Evaluar svm C=0.73": "Cached",
        "Evaluar k_vecinos n_neighbors=12": "Completed",
    }

    # Recalcular: todo corre de nuevo aunque haya caché
    with temporary_settings({PREFECT_TASKS_REFRESH_CACHE: True}):
        fourth = buscar_modelo.search_models(changed, 1, return_state=True)
    assert len(fits) == 5
    states = states_by_name(prefect_client, fourth.state_details.flow_run_id, 3)
    assert set(states.values()) == {"Completed"}


@pytest.mark.harness
def test_invalid_candidates_fail_the_run_before_any_task(prefect_client, fits):
    state = buscar_modelo.search_models(
        [{"modelo": "svm", "C": -1}], 1, return_state=True
    )
    assert state.is_failed()
    with pytest.raises(ValueError, match="C debe ser un número entre 0.001 y 1000"):
        state.result()
    assert task_runs(prefect_client, state.state_details.flow_run_id) == []
    assert fits == []


calls: list[int] = []


@task(persist_result=True)  # la política por defecto: DEFAULT
def double(x: int) -> int:
    calls.append(x)
    return 2 * x


@task(cache_policy=buscar_modelo.CACHE)
def triple(x: int) -> int:
    calls.append(x)
    return 3 * x


@task(cache_policy=buscar_modelo.CACHE)
def triple_edited(x: int) -> int:
    calls.append(x)
    return x + x + x  # el mismo resultado, otro código


@flow
def use_twice(x: int) -> list:
    return [double(x), double(x)]


@flow
def use_once(edited: bool) -> int:
    return triple_edited(5) if edited else triple(5)


@pytest.mark.harness
def test_default_cache_policy_reuses_only_inside_the_same_run(prefect_client):
    calls.clear()
    first = use_twice(21, return_state=True)
    assert first.result() == [42, 42] and calls == [21]  # la 2.ª, de la caché
    second = use_twice(21, return_state=True)
    assert calls == [21, 21]  # otra corrida: otra clave (RUN_ID), se calcula
    states = [
        t.state.name
        for t in task_runs(prefect_client, second.state_details.flow_run_id, 2)
    ]
    assert states == ["Completed", "Cached"]


@pytest.mark.harness
def test_lesson_cache_policy_changes_key_when_the_task_code_changes(prefect_server):
    calls.clear()
    assert use_once(False) == 15 and use_once(False) == 15
    assert calls == [5]  # la segunda corrida salió de la caché
    assert use_once(True) == 15
    assert calls == [5, 5]  # mismas entradas, código distinto: se calcula


# ---------------------------------------------------------------------------
# De punta a punta: el script con `prefect server start` y un clúster de Dask
# ---------------------------------------------------------------------------


def lesson_run(server, output: str, lost_with: str = "") -> tuple[dict, list[dict]]:
    """La corrida de buscar-modelo cuyo enlace View at imprimió el script, y sus
    task runs, esperando a que lleguen las 9 y terminen (llegan por eventos desde
    los procesos de Dask: con la máquina ocupada, tardan).

    `lost_with` es la salida de un proceso de Dask muerto: una task que ese
    proceso terminó (lo dice su salida) puede quedar en Running, porque el evento
    de su Completed estaba todavía en su cola cuando lo mataron, y Dask no la
    repite porque su resultado ya había llegado.
    """
    run_id = re.search(r"/runs/flow-run/([0-9a-f-]{36})", output)[1]

    def settled(runs) -> bool:
        return len(runs) == 9 and all(
            state == "Completed"
            or (
                state == "Running"
                and f"'{name}' - Finished in state Completed()" in lost_with
            )
            for name, state in runs
        )

    eventually(
        lambda: sorted((t["name"], t["state_name"]) for t in server.task_runs(run_id)),
        settled,
        what=f"las 9 task runs de la búsqueda {run_id}, todas en Completed",
        timeout=90,
    )
    return server.get(f"/flow_runs/{run_id}"), server.task_runs(run_id)


@pytest.mark.server
@pytest.mark.dask
def test_script_runs_on_an_existing_dask_cluster_and_its_settings_travel(
    module_server, tmp_path
):
    script_storage = tmp_path / "resultados-del-script"
    worker_storage = tmp_path / "resultados-de-los-workers"
    # Los procesos de Dask con otra carpeta de resultados y un servidor que no existe
    with DaskCluster(
        module_server,
        PREFECT_RESULTS_LOCAL_STORAGE_PATH=str(worker_storage),
        PREFECT_API_URL="http://127.0.0.1:9/api",
    ) as dask:
        result = run_script(
            "introduction/buscar_modelo.py",
            "--dask-direccion",
            dask.address,
            "--repeticiones",
            "2",
            "--recalcular",
            home=module_server.home,
            api_url=module_server.api_url,
            PREFECT_RESULTS_LOCAL_STORAGE_PATH=str(script_storage),
        )
        workers = dask.worker_output(0)  # un `dask worker` con 2 procesos
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert f"Connecting to an existing Dask cluster at {dask.address}" in output
    run, runs = lesson_run(module_server, output)
    assert run["state_name"] == "Completed"
    assert sorted(t["state_name"] for t in runs) == ["Completed"] * 9
    # Las tasks corrieron en los procesos de Dask, no en el del script
    assert finished_evaluations(workers) == 8
    assert finished_evaluations(output) == 0
    # Los ajustes de Prefect viajan con cada task: los procesos de Dask informan al
    # servidor del script y guardan los resultados (la caché) en su carpeta
    assert len(list(script_storage.iterdir())) == 9
    assert not worker_storage.exists()


@pytest.mark.server
@pytest.mark.dask
def test_script_with_dask_starts_a_local_cluster_of_processes(module_server):
    started = time.time()
    result = run_script(
        "introduction/buscar_modelo.py",
        "--dask",
        "--repeticiones",
        "1",
        "--recalcular",
        home=module_server.home,
        api_url=module_server.api_url,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert (
        "Creating a new Dask cluster with `distributed.deploy.local.LocalCluster`"
        in output
    )
    assert "The Dask dashboard is available at http://127.0.0.1:" in output
    assert "distributed.worker - INFO" not in output  # solo avisos y errores de Dask
    run, runs = lesson_run(module_server, output)
    assert run["state_name"] == "Completed"
    assert {t["state_name"] for t in runs} == {"Completed"}
    # Cada resultado, en un archivo por clave de caché en PREFECT_HOME/storage
    storage = module_server.home / "storage"
    written = [p for p in storage.iterdir() if p.stat().st_mtime >= started]
    assert len(written) == 9


@pytest.mark.server
@pytest.mark.dask
def test_search_completes_when_a_dask_worker_is_killed_in_the_middle(module_server):
    # Sin nanny, `dask worker` es el proceso que ejecuta las tasks: SIGKILL lo mata
    # como se apaga una máquina, y nadie lo vuelve a levantar
    worker = ["--nworkers", "1", "--nthreads", "1", "--no-nanny"]
    with DaskCluster(module_server, worker_args=[worker, worker]) as dask:
        search = subprocess.Popen(
            [sys.executable, "introduction/buscar_modelo.py", "--dask-direccion",
             dask.address, "--repeticiones", "10", "--recalcular"],
            cwd=ROOT, env=dask.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True,
        )  # fmt: skip
        try:
            # Cuando termina su primer candidato, ya está con el siguiente
            eventually(
                lambda: finished_evaluations(dask.worker_output(0)),
                lambda done: done >= 1,
                what="que el primer proceso de Dask termine un candidato",
                timeout=180,
            )
            os.kill(dask.processes[1].pid, signal.SIGKILL)
            output, _ = search.communicate(timeout=300)
        finally:
            search.kill()
        killed = dask.processes[1].wait(timeout=30)
        scheduler = dask.logs[0].read_text(encoding="utf-8")
        done = [finished_evaluations(dask.worker_output(i)) for i in (0, 1)]
        dead = dask.worker_output(1)

    assert killed == -signal.SIGKILL
    assert "Remove worker" in scheduler
    # Dask vuelve a ejecutar en el otro proceso lo que se perdió con el muerto:
    # el flow termina con los 8 candidatos medidos
    assert search.returncode == 0, output
    assert "Ganador: regresion_logistica C=10.0" in output
    run, runs = lesson_run(module_server, output, lost_with=dead)
    assert run["state_name"] == "Completed"
    names = {t["name"] for t in runs if t["name"].startswith("Evaluar")}
    # Todas en Completed, salvo alguna que terminó el proceso muerto y cuyo
    # evento murió con él (lesson_run lo comprueba en su salida; visto una vez
    # con la máquina ocupada: 'Evaluar regresion_logistica C=10.0' en Running)
    assert len(names) == 8
    # Lo que el muerto no llegó a entregar lo midió el otro proceso
    assert done[0] >= 1 and done[0] + done[1] >= 8 and done[1] >= 8 - done[0]


@pytest.mark.server
@pytest.mark.dask
def test_without_the_main_guard_every_dask_process_fails_to_start(
    module_server, tmp_path
):
    # El mismo script sin `if __name__ == "__main__":`, como lo escribe quien olvida
    source = (ROOT / "introduction" / "buscar_modelo.py").read_text(encoding="utf-8")
    guard = source.index('if __name__ == "__main__":')
    (tmp_path / "buscar_modelo.py").write_text(
        source[:guard] + "sys.exit(main())\n", encoding="utf-8"
    )
    for module in ("run_iris.py", "almacen.py"):  # lo que importa el script
        (tmp_path / module).write_bytes((ROOT / "introduction" / module).read_bytes())
    result = run_script(
        str(tmp_path / "buscar_modelo.py"),
        "--dask",
        "--repeticiones",
        "1",
        home=module_server.home,
        api_url=module_server.api_url,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 1
    assert (
        "An attempt has been made to start a new process before the\n"
        "        current process has finished its bootstrapping phase." in output
    )
    assert "RuntimeError: Nanny failed to start." in output
    # Cada proceso de Dask vuelve a ejecutar el archivo entero: otra búsqueda más
    assert output.count("Beginning flow run") >= 2
