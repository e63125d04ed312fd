"""Las mediciones (mediciones/*.py) cargan desde su carpeta y explican su uso.

No se miden aquí: imprimen cifras que dependen de la máquina (CONTRIBUTING.md).
"""

import pytest

from tests.helpers import ROOT, run_script

SCRIPTS = sorted(p.name for p in (ROOT / "mediciones").glob("*.py"))


# Cada una importa Prefect, scikit-learn y Dask en un proceso nuevo: unos segundos
# de CPU, fuera de la comprobación rápida
@pytest.mark.slow
@pytest.mark.parametrize("script", SCRIPTS)
def test_measurement_loads_its_lesson_and_explains_its_options(script, tmp_path):
    result = run_script(f"mediciones/{script}", "--help", home=tmp_path, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"usage: {script} ")
