"""El teléfono del gerente: un programa aparte que recibe los avisos del restaurante.

Muestra el otro lado de una notificación de Prefect: no usa Prefect, escucha en
un puerto de esta máquina y escribe cada aviso que le llega. Las automations del
servidor (avisar_al_gerente.py) se lo mandan con un bloque webhook cuando un
plato no sale, un grupo espera mesa demasiado o una corrida se corta.
Funciona sin servidor. Ejecutar con ``python restaurant/gerente.py``
(``--puerto``: otro puerto); Ctrl+C termina.
"""

import argparse
import errno
import json
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT = 8765  # el puerto donde escucha; avisar_al_gerente.py usa el mismo

PORT_IN_USE = """El puerto {port} ya está en uso: otro programa escucha ahí (¿otro
gerente.py abierto?). Ciérralo, o elige otro puerto con --puerto y crea las
automations con el mismo: python restaurant/avisar_al_gerente.py --puerto OTRO"""


class Phone(BaseHTTPRequestHandler):
    """Recibir cada aviso (un POST con JSON) y escribirlo en la terminal."""

    def do_POST(self) -> None:  # noqa: N802 (el nombre lo pide http.server)
        """Escribir el aviso y responder 200: el servidor de Prefect lo espera."""
        size = int(self.headers.get("Content-Length") or 0)
        text = self.rfile.read(size).decode("utf-8", errors="replace")
        try:
            aviso = json.loads(text)
            line = f"{aviso['asunto']}: {aviso['mensaje']}"
        except (ValueError, KeyError, TypeError):
            line = f"(un aviso sin asunto ni mensaje) {text}"
        print(f"[{time.strftime('%H:%M:%S')}] {line}", flush=True)
        self.send_response(200)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        """Sin el registro de cada pedido HTTP: solo los avisos."""


def main(argv: list[str] | None = None) -> int:
    """Escuchar avisos hasta Ctrl+C."""
    parser = argparse.ArgumentParser(description="El teléfono del gerente.")
    parser.add_argument(
        "--puerto", type=int, default=PORT, help=f"dónde escucha (por defecto {PORT})"
    )
    args = parser.parse_args(argv)
    if not 1 <= args.puerto <= 65535:
        print(f"--puerto va de 1 a 65535; llegó {args.puerto}.", file=sys.stderr)
        return 2
    try:
        phone = ThreadingHTTPServer(("127.0.0.1", args.puerto), Phone)
    except OSError as error:
        if error.errno != errno.EADDRINUSE:
            print(
                f"No se puede escuchar en el puerto {args.puerto}: {error}",
                file=sys.stderr,
            )
            return 1
        print(PORT_IN_USE.format(port=args.puerto), file=sys.stderr)
        return 1
    print(
        f"El gerente escucha avisos en http://127.0.0.1:{args.puerto}/. "
        "Ctrl+C para terminar.",
        flush=True,
    )
    with phone:
        try:
            phone.serve_forever()
        except KeyboardInterrupt:
            pass
    print("El gerente cortó el teléfono.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
