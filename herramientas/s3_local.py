"""El servicio S3 local de los capítulos (moto en modo servidor), para las
pruebas, las capturas y las mediciones.

No es una lección: `LocalS3` levanta `moto_server` como lo escribe quien aprende,
en un puerto libre, y lo detiene por su PID. Con `keys=True` moto además
comprueba las claves, como AWS o MinIO: crea un usuario con su clave y, desde
ahí, rechaza las que no son suyas.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from herramientas.documentos import readme_lines
from herramientas.procesos import free_port, stop_process

README_S3_PORT = "9000"  # el puerto del comando moto_server de los capítulos
# Pedidos que moto atiende sin comprobar claves: los tres que crean el usuario
SETUP_ACTIONS = 3


def readme_s3_command() -> list[str]:
    """El comando `moto_server ...` de los capítulos, como argumentos."""
    (line,) = readme_lines("moto_server ")
    return line


class LocalS3:
    """`moto_server` en un puerto libre; `endpoint` es su dirección http://."""

    def __init__(self, log_dir: Path, keys: bool = False, port: int | None = None):
        self.port = str(port or free_port())
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.keys = keys
        self.log = log_dir / f"moto-{self.port}-{time.monotonic_ns()}.log"
        self.key_id = "cocina"  # moto sin claves acepta cualquiera
        self.secret = "clave-de-prueba"
        self.process: subprocess.Popen | None = None

    def client(self, service: str = "s3", key_id=None, secret=None):
        import boto3

        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name="us-east-1",
            aws_access_key_id=key_id or self.key_id,
            aws_secret_access_key=secret or self.secret,
        )

    def __enter__(self) -> "LocalS3":
        args = [a.replace(README_S3_PORT, self.port) for a in readme_s3_command()]
        env = dict(os.environ)
        if self.keys:
            env["INITIAL_NO_AUTH_ACTION_COUNT"] = str(SETUP_ACTIONS)
        self.process = subprocess.Popen(
            [str(Path(sys.executable).parent / args[0]), *args[1:]],
            env=env,
            stdout=self.log.open("w"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._wait_until_it_answers()
        if self.keys:
            self._create_user()
        return self

    def _wait_until_it_answers(self, timeout: float = 60) -> None:
        import urllib.error
        import urllib.request

        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"moto_server terminó al arrancar:\n{self.log.read_text()}"
                )
            try:
                urllib.request.urlopen(f"{self.endpoint}/moto-api/", timeout=2)
                return
            except urllib.error.HTTPError:
                return  # responde, aunque sea con un error
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(
                        f"moto_server no respondió en {timeout} s en {self.endpoint}"
                    ) from None
                time.sleep(0.2)

    def _create_user(self) -> None:
        """Los tres pedidos sin claves: un usuario, su clave y su permiso sobre S3."""
        iam = self.client("iam", "nadie", "nada")
        iam.create_user(UserName="cocina")
        key = iam.create_access_key(UserName="cocina")["AccessKey"]
        iam.put_user_policy(
            UserName="cocina",
            PolicyName="s3",
            PolicyDocument=json.dumps(
                {
                    "Version": "2012-10-17",
                    "Statement": [
                        {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}
                    ],
                }
            ),
        )
        self.key_id, self.secret = key["AccessKeyId"], key["SecretAccessKey"]

    def objects(self, bucket: str) -> list[str]:
        """Las claves de los objetos del bucket."""
        listing = self.client().list_objects_v2(Bucket=bucket)
        return [item["Key"] for item in listing.get("Contents", [])]

    def __exit__(self, *exc_info) -> None:
        if self.process is not None:
            stop_process(self.process, signal.SIGTERM)
