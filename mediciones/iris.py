"""Medir cuánto cuesta Prefect en run_iris.py frente al mismo trabajo sin Prefect.

Ejecuta, en la misma corrida y como procesos nuevos (como los ejecuta quien
aprende): el script contra el servidor temporal, contra `prefect server start`,
y el mismo trabajo de scikit-learn como script plano. Imprime medianas y
cocientes. Uso: ``python mediciones/iris.py [--repeticiones 5]``.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "introduction" / "run_iris.py"
sys.path.insert(0, str(ROOT))

from herramientas import servidor  # noqa: E402

# El mismo trabajo que las tres tasks de run_iris.py, sin importar prefect
PLAIN_SCRIPT = """
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, classification_report, confusion_matrix
from sklearn.model_selection import train_test_split

data = load_iris()
X_train, X_test, y_train, y_test = train_test_split(
    data.data, data.target, test_size=0.2, random_state=42, stratify=data.target
)
model = LogisticRegression(max_iter=200).fit(X_train, y_train)
y_pred = model.predict(X_test)
classification_report(y_test, y_pred, output_dict=True)
confusion_matrix(y_test, y_pred)
accuracy = accuracy_score(y_test, y_pred)
print(f"Exactitud (accuracy) en los datos de prueba: {accuracy:.3f}")
"""
ACCURACY_LINE = "Exactitud (accuracy) en los datos de prueba:"


def timed_run(args: list[str], env: dict[str, str]) -> tuple[float, str]:
    """Ejecutar un proceso nuevo y devolver su duración y la línea de exactitud."""
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, *args], env=env, capture_output=True, text=True, check=False
    )
    elapsed = time.perf_counter() - start
    output = result.stdout + result.stderr
    if result.returncode != 0:
        sys.exit(f"Falló {' '.join(args)}:\n{output}")
    accuracy = next(line for line in output.splitlines() if ACCURACY_LINE in line)
    return elapsed, accuracy.split(ACCURACY_LINE)[1].strip()


def main() -> None:
    """Medir los tres casos y mostrar la tabla de resultados."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeticiones", type=int, default=5)
    n = parser.parse_args().repeticiones
    if n < 1:
        sys.exit("--repeticiones debe ser un entero mayor o igual a 1")

    with tempfile.TemporaryDirectory(prefix="prefect-benchmark-") as home:
        env = {**os.environ, "PREFECT_HOME": home}
        env["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
        env.pop("PREFECT_API_URL", None)

        plain = [timed_run(["-c", PLAIN_SCRIPT], env) for _ in range(n)]
        # La primera corrida temporal crea la base de datos (migraciones)
        first_temporary = timed_run([str(SCRIPT)], env)
        temporary = [timed_run([str(SCRIPT)], env) for _ in range(n)]

        # El mismo servidor propio que usan las pruebas y las capturas
        server = servidor.PrefectServer(Path(home) / "servidor", servidor.free_port())
        with server:
            served_env = {**env, "PREFECT_API_URL": server.api_url}
            served = [timed_run([str(SCRIPT)], served_env) for _ in range(n)]

    accuracies = {acc for _, acc in plain + temporary + served + [first_temporary]}
    if len(accuracies) != 1:
        sys.exit(f"Los casos no hicieron el mismo trabajo: exactitudes {accuracies}")

    baseline = statistics.median(t for t, _ in plain)
    rows = [
        ("scikit-learn sin Prefect (base)", plain),
        ("run_iris.py, servidor temporal, 1.ª vez", [first_temporary]),
        ("run_iris.py, servidor temporal", temporary),
        ("run_iris.py, prefect server start", served),
    ]
    print(f"Exactitud en todos los casos: {accuracies.pop()}; {n} repeticiones")
    print(f"{'caso':<42}{'mediana':>9}{'mín':>8}{'máx':>8}{'× base':>8}")
    for name, runs in rows:
        times = [t for t, _ in runs]
        median = statistics.median(times)
        print(
            f"{name:<42}{median:>8.2f}s{min(times):>7.2f}s{max(times):>7.2f}s"
            f"{median / baseline:>8.1f}"
        )


if __name__ == "__main__":
    main()
