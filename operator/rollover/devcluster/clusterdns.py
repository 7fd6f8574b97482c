"""The local node's cluster DNS: a few fixed A records, NXDOMAIN for every other name.

In-cluster clients find the apiserver by name: kopf's service-account login connects to
`https://kubernetes.default.svc`, which without cluster DNS fails with `Temporary failure in name
resolution`. There is no CoreDNS here (no registry to pull it from, no kube-proxy to reach it), so
the node runs this on its host address and gives it to the kubelet as `clusterDNS`:
`kubernetes.default.svc.cluster.local` answers the `kubernetes` Service's IP, which the node's NAT
rule sends to the apiserver. Pods need no other name (the harness's servers are given by address).

`answer` is the whole protocol (pure: RFC 1035 queries in, responses out); `main` serves it over UDP.
"""

from __future__ import annotations

import ipaddress
import socket
import struct
import sys
from collections.abc import Mapping

CLUSTER_DOMAIN = "cluster.local"
TTL_S = 30
_TYPE_A, _TYPE_ANY, _CLASS_IN = 1, 255, 1
_NOERROR, _FORMERR, _NXDOMAIN, _NOTIMP = 0, 1, 3, 4


def answer(query: bytes, records: Mapping[str, str]) -> bytes | None:
    """The response to one DNS query (None for a packet not worth answering): an authoritative A
    record for a name in `records` (name -> IPv4 address), no data for its other types, NXDOMAIN
    for any other name."""
    if len(query) < 12:
        return None
    ident, flags, qdcount = struct.unpack("!HHH", query[:6])
    if flags & 0x8000:  # a response, not a query
        return None
    opcode, recursion_desired = (flags >> 11) & 0xF, flags & 0x0100
    parsed = _question(query) if qdcount == 1 else None
    if parsed is None:
        return _header(ident, opcode, recursion_desired, _FORMERR, 0, 0)
    name, qtype, qclass, end = parsed
    question = query[12:end]
    if opcode != 0:
        return _header(ident, opcode, recursion_desired, _NOTIMP, 1, 0) + question
    address = records.get(name)
    if address is None:
        return _header(ident, opcode, recursion_desired, _NXDOMAIN, 1, 0) + question
    if qclass != _CLASS_IN or qtype not in (_TYPE_A, _TYPE_ANY):
        return _header(ident, opcode, recursion_desired, _NOERROR, 1, 0) + question
    rdata = ipaddress.IPv4Address(address).packed
    # The answer's name is a pointer to the question's (offset 12).
    record = struct.pack("!HHHIH", 0xC00C, _TYPE_A, _CLASS_IN, TTL_S, len(rdata)) + rdata
    return _header(ident, opcode, recursion_desired, _NOERROR, 1, 1) + question + record


def _question(query: bytes) -> tuple[str, int, int, int] | None:
    """(lower-case name without the final dot, type, class, offset after the question)."""
    labels, offset = [], 12
    while True:
        if offset >= len(query):
            return None
        length = query[offset]
        offset += 1
        if length == 0:
            break
        if length > 63 or offset + length > len(query):  # compression is not used in questions
            return None
        labels.append(query[offset : offset + length].decode("ascii", errors="replace").lower())
        offset += length
    if offset + 4 > len(query):
        return None
    qtype, qclass = struct.unpack("!HH", query[offset : offset + 4])
    return ".".join(labels), qtype, qclass, offset + 4


def _header(
    ident: int, opcode: int, recursion_desired: int, rcode: int, questions: int, answers: int
) -> bytes:
    flags = 0x8000 | (opcode << 11) | 0x0400 | recursion_desired | rcode  # QR, AA; no recursion offered
    return struct.pack("!HHHHHH", ident, flags, questions, answers, 0, 0)


def kubernetes_records(service_ip: str) -> dict[str, str]:
    """The `kubernetes` Service's name in the cluster domain."""
    return {f"kubernetes.default.svc.{CLUSTER_DOMAIN}": service_ip}


def serve(address: str, records: Mapping[str, str], port: int = 53) -> None:
    """Answer queries on UDP `address`:`port` until killed."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind((address, port))
        while True:
            query, client = sock.recvfrom(512)
            response = answer(query, records)
            if response is not None:
                sock.sendto(response, client)


def main() -> None:
    """`python -m rollover.devcluster.clusterdns ADDRESS SERVICE_IP`."""
    address, service_ip = sys.argv[1:3]
    serve(address, kubernetes_records(service_ip))


if __name__ == "__main__":
    main()
