"""El almacén compartido de la búsqueda: un bucket S3 guardado como bloques de Prefect.

Dos bloques, en el servidor de Prefect: un `S3Bucket` con el bucket, la dirección
del servicio (endpoint) y el id de la clave, y un `Secret` con la clave secreta.
`load_storage` los junta en memoria y comprueba que el bucket responde; lo usan
`guardar_almacen.py` (que los crea) y `buscar_modelo.py --almacen`.
"""

import botocore.exceptions
from botocore.config import Config
from prefect import get_client
from prefect.blocks.system import Secret
from prefect.settings import get_current_settings
from prefect_aws import AwsCredentials, S3Bucket
from prefect_aws.client_parameters import AwsClientParameters
from pydantic import SecretStr

BLOCK = "cache-busqueda"  # el bloque S3Bucket
SECRET = "clave-s3"  # el bloque Secret con la clave secreta
SAVE = "python introduction/guardar_almacen.py"


class StorageProblem(Exception):
    """El almacén no se puede usar; el mensaje dice por qué y cómo arreglarlo."""


class MissingBucket(StorageProblem):
    """El servicio responde y acepta las claves, pero el bucket no existe."""


def storage_block(
    bucket: str, endpoint: str, key_id: str, region: str = "us-east-1"
) -> S3Bucket:
    """El bloque del bucket, sin la clave secreta (esa va en el bloque Secret)."""
    credentials = AwsCredentials(
        aws_access_key_id=key_id,
        region_name=region,
        aws_client_parameters=AwsClientParameters(endpoint_url=endpoint),
    )
    return S3Bucket(bucket_name=bucket, credentials=credentials)


def check_prefect_server() -> None:
    """Los bloques viven en el servidor de Prefect: comprobar que responde."""
    url = get_current_settings().api.url
    if not url:
        raise StorageProblem(
            "Los bloques del almacén viven en `prefect server start`. Ábrelo en otra\n"
            "terminal y ejecuta antes:\n"
            "  prefect config set PREFECT_API_URL=http://127.0.0.1:4200/api"
        )
    with get_client(sync_client=True) as client:
        if client.api_healthcheck() is not None:
            raise StorageProblem(
                f"Nadie responde en {url}: el servidor de Prefect no está abierto.\n"
                "Ábrelo en otra terminal con  prefect server start"
            )


def load_storage(name: str = BLOCK) -> S3Bucket:
    """Cargar el bucket y su clave del servidor, y comprobar que se puede usar."""
    check_prefect_server()
    try:
        bucket = S3Bucket.load(name)
    except ValueError:
        raise StorageProblem(
            f"No hay un bloque S3Bucket llamado {name!r} en el servidor de Prefect.\n"
            f"Créalo con  {SAVE} --endpoint URL --bucket NOMBRE --id-clave ID"
        ) from None
    try:
        secret = Secret.load(SECRET)
    except ValueError:
        raise StorageProblem(
            f"No hay un bloque Secret llamado {SECRET!r} con la clave secreta de S3.\n"
            f"Guárdala con  {SAVE} (la pide sin mostrarla) o en la UI: "
            "Blocks, +, Secret."
        ) from None
    bucket.credentials.aws_secret_access_key = SecretStr(secret.get())
    check_bucket(bucket)
    return bucket


def check_bucket(bucket: S3Bucket) -> None:
    """Preguntarle al servicio por el bucket y explicar en español lo que falle."""
    endpoint = bucket.credentials.aws_client_parameters.endpoint_url
    where = f"el bucket {bucket.bucket_name!r} en {endpoint}"
    # Un solo intento: si nadie responde, decirlo enseguida (al guardar
    # resultados, boto3 sí reintenta)
    client = bucket.credentials.get_boto3_session().client(
        "s3", endpoint_url=endpoint, config=Config(retries={"total_max_attempts": 1})
    )
    try:
        client.head_bucket(Bucket=bucket.bucket_name)
    except botocore.exceptions.EndpointConnectionError:
        raise StorageProblem(
            f"Nadie responde en {endpoint}: no hay un servicio S3 ahí.\n"
            "Con moto, inícialo en otra terminal con  moto_server -H 127.0.0.1 -p 9000"
        ) from None
    except botocore.exceptions.ClientError as error:
        code = str(error.response.get("Error", {}).get("Code"))
        if code in ("404", "NoSuchBucket"):
            raise MissingBucket(
                f"No existe {where}.\n"
                f"Créalo con  {SAVE} ... --crear-bucket  (o en la consola de tu "
                "proveedor), o guarda el bloque con el nombre de un bucket que exista."
            ) from None
        if code in ("403", "InvalidAccessKeyId", "SignatureDoesNotMatch"):
            raise StorageProblem(
                f"El servicio no acepta las claves para {where} (respuesta {code}).\n"
                f"Revisa el id de la clave (bloque {BLOCK!r}) y la clave secreta "
                f"(bloque {SECRET!r}); guárdalas otra vez con  {SAVE}"
            ) from None
        raise StorageProblem(f"No se pudo usar {where}: {code}.") from None
