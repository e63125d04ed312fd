"""Leer del README y los capítulos los comandos que las herramientas ejecutan.

No es una lección: así las pruebas y las capturas usan los mismos comandos que
copia quien aprende, tal como están escritos.
"""

import re
import shlex

from herramientas.procesos import ROOT


def learner_docs() -> list:
    """Lo que lee quien aprende: el README y los capítulos, en orden."""
    return [ROOT / "README.md", *sorted((ROOT / "capitulos").glob("*.md"))]


def docs_text() -> str:
    """El texto del README y de todos los capítulos, uno detrás del otro."""
    return "\n\n".join(p.read_text(encoding="utf-8") for p in learner_docs())


def readme_lines(start: str) -> list[list[str]]:
    """Las líneas de comandos del README y los capítulos que empiezan con `start`,
    como argumentos."""
    lines = re.findall(rf"^{re.escape(start)}.*$", docs_text(), flags=re.MULTILINE)
    return [shlex.split(line) for line in lines]


def readme_postgres_setup() -> list[list[str]]:
    """Los comandos `sudo -u postgres ...` del README que crean el usuario y la base."""
    return [line[3:] for line in readme_lines("sudo -u postgres ")]


def readme_protected_settings() -> dict[str, str]:
    """Las variables con que el README abre el servidor con contraseña."""
    (line,) = readme_lines("PREFECT_SERVER_API_AUTH_STRING=")
    assert line[-3:] == ["prefect", "server", "start"], line
    return dict(arg.split("=", 1) for arg in line[:-3])
