"""Hostile CAP files are refused (or their references ignored) and make no file or network access.

File access is watched with a FIFO: a writer thread blocks in ``open`` until someone opens it
for reading and then tells that reader how many readers came before it. Network access is
watched with a listening socket: the test's own sentinel connection must be the first one.
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from lightctl.cap.parse import parse_message
from lightctl.cap.xmlread import CapRefused

HEAD = """<alert xmlns="urn:oasis:names:tc:emergency:cap:1.2"{attrs}>
  <identifier>H-1</identifier><sender>x@example.org</sender>
  <sent>2026-05-01T12:00:00+02:00</sent><status>Actual</status><msgType>Alert</msgType>
  <scope>Public</scope><note>{note}</note>
</alert>"""


class FifoWatch:
    def __init__(self, path: Path) -> None:
        self.path = path
        os.mkfifo(path)
        self.opened = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            fd = os.open(self.path, os.O_WRONLY)  # blocks until a reader opens the FIFO
            self.opened += 1
            try:
                os.write(fd, f"{self.opened}\n".encode())
            except BrokenPipeError:
                pass  # reopened while the last reader was closing: it read its line already
            finally:
                os.close(fd)
            if self.opened >= 2:
                return

    def readers_before_me(self) -> int:
        with open(self.path, encoding="ascii") as f:
            return int(f.readline()) - 1


class PortWatch:
    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.sock.settimeout(5)
        self.port = self.sock.getsockname()[1]

    def first_connection_is_mine(self) -> bool:
        with socket.create_connection(("127.0.0.1", self.port), timeout=5) as mine:
            mine.sendall(b"sentinel")
            conn, _ = self.sock.accept()
            with conn:
                conn.settimeout(5)
                return conn.recv(8) == b"sentinel"


@pytest.fixture
def watches(tmp_path: Path) -> Iterator[tuple[FifoWatch, PortWatch]]:
    fifo = FifoWatch(tmp_path / "secret")
    port = PortWatch()
    yield fifo, port
    port.sock.close()
    if fifo.thread.is_alive():  # let the writer's second open complete so its thread ends
        fd = os.open(fifo.path, os.O_RDONLY | os.O_NONBLOCK)
        fifo.thread.join(5)
        os.close(fd)


def hostile(kind: str, fifo: Path, port: int) -> bytes:
    url = f"http://127.0.0.1:{port}/x"
    if kind == "external_file_entity":
        doc = f'<!DOCTYPE alert [<!ENTITY x SYSTEM "file://{fifo}">]>' + HEAD.format(
            attrs="", note="&x;"
        )
    elif kind == "external_network_entity":
        doc = f'<!DOCTYPE alert [<!ENTITY x SYSTEM "{url}">]>' + HEAD.format(attrs="", note="&x;")
    elif kind == "parameter_entity":
        doc = f'<!DOCTYPE alert [<!ENTITY % p SYSTEM "{url}"> %p;]>' + HEAD.format(
            attrs="", note="n"
        )
    elif kind == "external_dtd":
        doc = f'<!DOCTYPE alert SYSTEM "file://{fifo}">' + HEAD.format(attrs="", note="n")
    elif kind == "billion_laughs":
        ents = '<!ENTITY a "lol">' + "".join(
            f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(9)
        )
        doc = f"<!DOCTYPE alert [{ents}]>" + HEAD.format(attrs="", note="&j;")
    elif kind == "xinclude":
        doc = HEAD.format(
            attrs=' xmlns:xi="http://www.w3.org/2001/XInclude"',
            note=f'<xi:include href="file://{fifo}" parse="text"/>',
        )
    elif kind == "utf16_doctype":
        text = (
            f'<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE alert [<!ENTITY x SYSTEM "{url}">]>'
        )
        return (text + HEAD.format(attrs="", note="&x;")).encode("utf-16")
    else:
        raise AssertionError(kind)
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + doc).encode()


@pytest.mark.parametrize(
    "kind",
    [
        "external_file_entity",
        "external_network_entity",
        "parameter_entity",
        "external_dtd",
        "billion_laughs",
        "xinclude",
        "utf16_doctype",
    ],
)
def test_hostile_xml_is_refused_without_touching_files_or_network(
    kind: str, watches: tuple[FifoWatch, PortWatch]
) -> None:
    fifo, port = watches
    with pytest.raises(CapRefused) as info:
        parse_message(hostile(kind, fifo.path, port.port))
    assert info.value.problems
    assert fifo.readers_before_me() == 0, "the parser opened the file"
    assert port.first_connection_is_mine(), "the parser connected to the network"


@pytest.mark.parametrize("where", ["stylesheet", "schema_location"])
def test_stylesheets_and_schema_locations_are_never_fetched(
    where: str, watches: tuple[FifoWatch, PortWatch]
) -> None:
    """Real CAP carries both (Met Éireann's stylesheet): named warnings, never fetched."""
    fifo, port = watches
    url = f"http://127.0.0.1:{port.port}/x.xsl"
    if where == "stylesheet":
        doc = f'<?xml-stylesheet type="text/xsl" href="{url}"?>\n' + HEAD.format(attrs="", note="n")
    else:
        attrs = (
            ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'
            f' xsi:schemaLocation="urn:oasis:names:tc:emergency:cap:1.2 {url}"'
        )
        doc = HEAD.format(attrs=attrs, note="n")
    message = parse_message(doc.encode())
    assert any("never fetched" in w for w in message.warnings)
    assert fifo.readers_before_me() == 0
    assert port.first_connection_is_mine()
