"""Guardar en Prefect el almacén S3 de la caché: un bloque S3Bucket y un Secret.

El bloque `cache-busqueda` guarda el bucket, la dirección del servicio y el id de
la clave; el bloque `clave-s3` guarda la clave secreta, que el script pide sin
mostrarla (o lee de la variable de entorno S3_CLAVE_SECRETA). Con --crear-bucket
crea también el bucket si no existe. Necesita `prefect server start`.
Ejecutar con ``python introduction/guardar_almacen.py --endpoint URL --bucket B
--id-clave ID``.
"""

import argparse
import getpass
import os
import sys

from prefect.blocks.system import Secret
from pydantic import SecretStr

from almacen import (
    BLOCK,
    SECRET,
    MissingBucket,
    StorageProblem,
    check_bucket,
    check_prefect_server,
    storage_block,
)


def main(argv: list[str] | None = None) -> int:
    """Guardar los dos bloques y comprobar que el bucket responde con esas claves."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--endpoint", required=True, help="p. ej. http://127.0.0.1:9000"
    )
    parser.add_argument("--bucket", required=True)
    parser.add_argument("--id-clave", required=True, help="el id de la clave de S3")
    parser.add_argument("--region", default="us-east-1", help="con AWS, la del bucket")
    parser.add_argument("--crear-bucket", action="store_true")
    args = parser.parse_args(argv)
    if not args.endpoint.startswith(("http://", "https://")):
        parser.error(
            f"--endpoint es una dirección http:// o https://; llegó {args.endpoint!r}"
        )
    try:
        check_prefect_server()  # antes de pedir la clave
    except StorageProblem as problem:
        print(problem, file=sys.stderr)
        return 1
    try:
        secret = os.environ.get("S3_CLAVE_SECRETA") or getpass.getpass(
            "Clave secreta de S3 (no se ve al escribirla): "
        )
    except (EOFError, KeyboardInterrupt):  # Ctrl+D o Ctrl+C en lugar de la clave
        secret = ""
    if not secret:
        print(
            "No escribiste la clave secreta: no guardé nada. Vuelve a ejecutar el "
            "comando y escríbela cuando la pida.",
            file=sys.stderr,
        )
        return 1
    bucket = storage_block(args.bucket, args.endpoint, args.id_clave, args.region)
    bucket.credentials.aws_secret_access_key = SecretStr(secret)
    try:
        try:
            check_bucket(bucket)
        except MissingBucket:
            if not args.crear_bucket:
                raise
            where = {}  # fuera de us-east-1, S3 pide la región del bucket nuevo
            if args.region != "us-east-1":
                where["CreateBucketConfiguration"] = {"LocationConstraint": args.region}
            bucket.credentials.get_s3_client().create_bucket(
                Bucket=args.bucket, **where
            )
            print(f"Bucket {args.bucket!r} creado en {args.endpoint}.")
    except StorageProblem as problem:
        print(problem, file=sys.stderr)
        return 1
    # El bloque del bucket se guarda sin la clave: la clave va en el Secret
    bucket.credentials.aws_secret_access_key = None
    bucket.save(BLOCK, overwrite=True)
    Secret(value=secret).save(SECRET, overwrite=True)
    print(f"Guardados los bloques S3Bucket {BLOCK!r} y Secret {SECRET!r}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
