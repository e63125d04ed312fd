"""Lo que se ve en el árbol del repositorio: qué es lección y qué es maquinaria."""

import ast
import os
import signal
import subprocess
import sys

import pytest

from herramientas.procesos import ctrl_c_works
from tests.helpers import ROOT

LESSON_FOLDERS = ("introduction", "restaurant")


def test_measurements_live_in_mediciones_not_in_the_lessons():
    lessons = [p for folder in LESSON_FOLDERS for p in (ROOT / folder).glob("*.py")]
    assert [p.name for p in lessons if "benchmark" in p.name] == []
    assert sorted(p.name for p in (ROOT / "mediciones").glob("*.py")) == [
        "busqueda.py",
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
