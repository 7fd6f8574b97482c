"""The local node's cluster DNS (rollover.devcluster.clusterdns): the protocol, without a socket."""

from __future__ import annotations

import socket
import struct

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rollover.devcluster.clusterdns import answer, kubernetes_records

pytestmark = pytest.mark.unit

RECORDS = kubernetes_records("10.0.0.1")
NAME = "kubernetes.default.svc.cluster.local"


def query(name: str, qtype: int = 1, ident: int = 0x1234) -> bytes:
    labels = b"".join(bytes([len(label)]) + label.encode() for label in name.split("."))
    return struct.pack("!HHHHHH", ident, 0x0100, 1, 0, 0, 0) + labels + b"\0" + struct.pack("!HH", qtype, 1)


def rcode_and_answers(response: bytes) -> tuple[int, int]:
    _, flags, _, answers = struct.unpack("!HHHH", response[:8])
    return flags & 0xF, answers


def test_the_kubernetes_service_name_answers_its_ip() -> None:
    request = query(NAME.upper())  # names are case-insensitive
    response = answer(request, RECORDS)
    assert response is not None and response[:2] == request[:2]  # the query's id
    assert rcode_and_answers(response) == (0, 1)
    assert socket.inet_ntoa(response[-4:]) == "10.0.0.1"
    assert response[12 : len(request)] == request[12:]  # the question is echoed


def test_other_names_do_not_exist_and_other_types_have_no_data() -> None:
    for name in ("kubernetes.default.svc.t-1.svc.cluster.local", "pypi.org"):
        response = answer(query(name), RECORDS)
        assert response is not None and rcode_and_answers(response) == (3, 0)  # NXDOMAIN
    aaaa = answer(query(NAME, qtype=28), RECORDS)
    assert aaaa is not None and rcode_and_answers(aaaa) == (0, 0)


@given(st.binary(max_size=300))
def test_any_packet_gets_an_answer_or_none_and_never_an_error(packet: bytes) -> None:
    response = answer(packet, RECORDS)
    assert response is None or response[:2] == packet[:2]
