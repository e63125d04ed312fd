"""Solución del ejercicio del capítulo 2: una task más en el workflow de Iris.

`Count Species` cuenta cuántas flores de cada especie quedaron para entrenar y
lo imprime; el flow `iris-con-conteo` la llama entre "Split Data" y "Train
Model". Funciona sin servidor, como run_iris.py. Ejecutar con
``python soluciones/iris_con_conteo.py``.
"""

import sys
from collections import Counter
from pathlib import Path

from prefect import flow, task

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "introduction"))

from run_iris import SPECIES, get_data_from_sklearn, split_data, train_model  # noqa: E402


@task(name="Count Species")
def count_species(y_train) -> dict[str, int]:
    """Contar las flores de cada especie en los datos de entrenamiento."""
    counts = Counter(int(label) for label in y_train)
    result = {species: counts[i] for i, species in enumerate(SPECIES)}
    print(f"Flores para entrenar: {result}")
    return result


@flow(name="iris-con-conteo", log_prints=True)
def iris_with_counts() -> dict:
    """Cargar, separar, contar las especies y entrenar."""
    dataset = get_data_from_sklearn()
    X_train, X_test, y_train, y_test = split_data(dataset)
    counts = count_species(y_train)
    metrics = train_model(X_train, X_test, y_train, y_test)
    return {"conteo": counts, "accuracy": metrics["accuracy"]}


if __name__ == "__main__":
    iris_with_counts()
