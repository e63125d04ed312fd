"""Lo que se ve en el árbol del repositorio: qué es lección y qué es maquinaria."""

import ast
import os
import signal
import subprocess
import sys

import pytest

from herramientas.documentos import docs_text
from herramientas.procesos import ctrl_c_works
from tests.helpers import ROOT

LESSON_FOLDERS = ("introduction", "restaurant")


def test_measurements_live_in_mediciones_not_in_the_lessons():
    lessons = [p for folder in LESSON_FOLDERS for p in (ROOT / folder).glob("*.py")]
    assert [p.name for p in lessons if "benchmark" in p.name] == []
    assert sorted(p.name for p in (ROOT / "mediciones").glob("*.py")) == [
        "busqueda.py",
        "cobro.py",
        "cocina.py",
        "iris.py",
        "llegadas.py",
        "restaurante.py",
    ]


def test_no_test_imports_the_screenshot_command():
    # imagenes/capturar.py es un comando; lo que comparten está en herramientas/
    importers = []
    for path in (ROOT / "tests").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            modules = []
            if isinstance(node, ast.ImportFrom) and node.module:
                modules = [
                    node.module,
                    *(f"{node.module}.{a.name}" for a in node.names),
                ]
            elif isinstance(node, ast.Import):
                modules = [a.name for a in node.names]
            if any(m.split(".")[0] == "imagenes" for m in modules):
                importers.append(path.name)
    assert importers == []


def test_serve_and_workers_started_by_the_tools_listen_to_ctrl_c():
    # Con SIGINT ignorado en quien lanza las pruebas (un CI, `nohup`), `serve` lo
    # heredaría y no se detendría con Ctrl+C: cada prueba esperaba 30 s y SIGKILL
    if os.name != "posix":
        pytest.skip("en Windows no se hereda un SIGINT ignorado")
    shown = "import signal; print(signal.getsignal(signal.SIGINT) is signal.SIG_IGN)"
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        inherited, reset = (
            subprocess.run(
                [sys.executable, "-c", shown],
                capture_output=True,
                text=True,
                preexec_fn=preexec,
            ).stdout.strip()
            for preexec in (None, ctrl_c_works())
        )
    finally:
        signal.signal(signal.SIGINT, previous)
    assert (inherited, reset) == ("True", "False")


# Los pasos del restaurante, en orden: cada uno agrega una idea al anterior
STEPS = [
    "paso1_historia.py",
    "paso2_cocina.py",
    "paso3_cuenta.py",
    "paso4_mesas.py",
    "paso5_grupo.py",
    "paso6_postre.py",
    "run_restaurant.py",
    "paso8_cobro.py",
    "paso9_cocina_cola.py",
    "paso10_gerente.py",
]
# Dónde aparece por primera vez cada idea (un texto que solo ella usa)
FIRST_STEP_OF = {
    "@flow(": 1,
    "retries=": 1,
    "async def": 2,
    "asyncio.gather": 2,
    "bill(pedido, servidos)": 3,
    "wait_for_table": 4,
    "keep_table": 4,
    "grupo: Grupo": 5,
    "ask_for_dessert": 6,
    "on_crashed": 7,
    "on_failure": 7,
    "atransaction": 8,
    "persist_result": 8,
    ".delay(": 9,
    "emit_event": 10,
}
# Una idea que un paso posterior reemplaza: en el paso 9, los platos a la vez
# (gather) pasan a la cola de la cocina (.delay), y los reintentos de cocinar y
# el hook del plato que no sale, al cocinero (cocineros.py) y a los mozos
REPLACED_IN = {"asyncio.gather": 9, "retries=": 9, "on_failure": 9}


def test_each_restaurant_step_adds_its_idea_and_fits_the_limits():
    sources = [(ROOT / "restaurant" / step).read_text("utf-8") for step in STEPS]
    assert len(sources[0].splitlines()) <= 120
    for step, source in zip(STEPS, sources, strict=True):
        assert len(source.splitlines()) <= 300, step
    for idea, first in FIRST_STEP_OF.items():
        where = [n for n, source in enumerate(sources, 1) if idea in source]
        last = REPLACED_IN.get(idea, len(STEPS) + 1) - 1
        assert where == list(range(first, last + 1)), idea


def test_every_step_is_in_a_chapter_with_the_command_to_compare_it():
    docs = docs_text()
    for before, after in zip(STEPS[:-1], STEPS[1:], strict=True):
        command = f"git diff --no-index restaurant/{before} restaurant/{after}"
        assert command in docs, command
        # El comando muestra lo agregado (git diff sale con 1 si hay diferencias)
        shown = subprocess.run(
            command.split(), cwd=ROOT, capture_output=True, text=True, check=False
        )
        assert shown.returncode == 1, shown.stderr
        added = [line for line in shown.stdout.splitlines() if line.startswith("+")]
        for idea, step in FIRST_STEP_OF.items():
            if step == STEPS.index(after) + 1:
                assert any(idea in line for line in added), (after, idea)
