"""Clasificación de flores Iris: el primer workflow de Prefect del tutorial.

Muestra tres tasks (`@task`: cargar los datos, separarlos, entrenar un modelo)
dentro de un flow (`@flow`) con reintentos, logs (`log_prints`) y artefactos.
Funciona sin servidor: sin PREFECT_API_URL, Prefect usa un servidor temporal que
guarda la corrida en la base de datos que después muestra `prefect server start`.
Ejecutar con ``python introduction/run_iris.py``.
"""

from prefect import flow, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.settings import get_current_settings
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, classification_report, confusion_matrix
from sklearn.model_selection import train_test_split

RANDOM_STATE = 42
TEST_SIZE = 0.2
SPECIES = ["setosa", "versicolor", "virginica"]  # load_iris().target_names


@task(
    name="Load Iris Dataset",
    tags=["data_loading"],
    description="Load Iris dataset from sklearn",
)
def get_data_from_sklearn() -> dict:
    """Cargar el dataset Iris de scikit-learn y devolverlo como diccionario."""
    data = load_iris()
    return {"data": data.data, "target": data.target}


@task(name="Split Data")
def split_data(dataset: dict) -> tuple:
    """Separar los datos en entrenamiento y prueba, con las mismas especies en ambos."""
    # stratify mantiene la proporción de cada especie; random_state la repite igual
    return train_test_split(
        dataset["data"],
        dataset["target"],
        test_size=TEST_SIZE,
        random_state=RANDOM_STATE,
        stratify=dataset["target"],
    )


@task(name="Train Model")
def train_model(X_train, X_test, y_train, y_test) -> dict:
    """Entrenar una regresión logística y medirla con los datos de prueba."""
    model = LogisticRegression(max_iter=200)
    model.fit(X_train, y_train)
    y_pred = model.predict(X_test)
    accuracy = float(accuracy_score(y_test, y_pred))
    report = classification_report(
        y_test, y_pred, target_names=SPECIES, output_dict=True
    )
    # Con log_prints=True en el flow, cada print queda como log de esta task
    print(f"Exactitud (accuracy) en los datos de prueba: {accuracy:.3f}")
    for species in SPECIES:
        row = report[species]
        print(
            f"{species}: precisión {row['precision']:.2f}, "
            f"exhaustividad {row['recall']:.2f}, f1 {row['f1-score']:.2f}"
        )
    return {
        "accuracy": accuracy,
        "per_species": {species: report[species] for species in SPECIES},
        "confusion_matrix": confusion_matrix(y_test, y_pred).tolist(),
    }


def metrics_table(metrics: dict) -> list[dict]:
    """Armar la tabla de métricas por especie que se publica como artefacto."""
    return [
        {
            "especie": species,
            "precisión": round(row["precision"], 3),
            "exhaustividad": round(row["recall"], 3),
            "f1": round(row["f1-score"], 3),
            "muestras": int(row["support"]),
        }
        for species, row in metrics["per_species"].items()
    ]


def confusion_markdown(metrics: dict) -> str:
    """Escribir la matriz de confusión como tabla Markdown con las especies."""
    lines = [
        "# Matriz de confusión",
        "",
        "Filas: especie real. Columnas: especie predicha.",
        "",
        "| real \\ predicha | " + " | ".join(SPECIES) + " |",
        "|---" * (len(SPECIES) + 1) + "|",
    ]
    for species, row in zip(SPECIES, metrics["confusion_matrix"], strict=True):
        lines.append(f"| {species} | " + " | ".join(str(n) for n in row) + " |")
    lines += ["", f"Exactitud (accuracy): **{metrics['accuracy']:.3f}**"]
    return "\n".join(lines)


def publish_artifacts(metrics: dict) -> None:
    """Publicar las métricas como artefactos, visibles en la pestaña Artifacts."""
    create_table_artifact(
        metrics_table(metrics),
        key="iris-metricas",
        description="Métricas por especie en los datos de prueba",
    )
    create_markdown_artifact(
        confusion_markdown(metrics),
        key="iris-matriz-confusion",
        description="Matriz de confusión del modelo",
    )


@flow(retries=3, retry_delay_seconds=5, log_prints=True)
def iris_classification() -> dict:
    """Orquestar el flujo completo: cargar, separar, entrenar y publicar."""
    dataset = get_data_from_sklearn()
    X_train, X_test, y_train, y_test = split_data(dataset)
    metrics = train_model(X_train, X_test, y_train, y_test)
    publish_artifacts(metrics)
    return metrics


def temporary_server_note() -> str | None:
    """Decir dónde quedó la corrida si se ejecutó en el servidor temporal."""
    settings = get_current_settings()
    if settings.api.url:
        return None  # la corrida ya se ve en el servidor de PREFECT_API_URL
    database = settings.server.database.connection_url.get_secret_value()
    if database.startswith("sqlite"):
        database = database.split(":///", 1)[1]  # la ruta del archivo
    else:  # otra base de datos: su dirección puede llevar una contraseña
        database = "la base de datos de PREFECT_SERVER_DATABASE_CONNECTION_URL"
    return (
        "Esta corrida usó un servidor temporal de Prefect, que se apaga con el\n"
        "script: no tiene interfaz web ni ejecuta horarios.\n"
        f"La corrida quedó guardada en {database}.\n"
        "Para verla en la UI, abre `prefect server start` en otra terminal (usa esa\n"
        "misma base de datos) y entra en http://127.0.0.1:4200: ya está ahí."
    )


if __name__ == "__main__":
    iris_classification()
    if note := temporary_server_note():
        print(note)
