"""A loopback DNS server (UDP on 127.0.0.1) answering from a dict, for the real dnspython resolver.

`FakeDNS(records)`: `records` maps (name, type) to the records' values as in a zone file
(`("example.org", "MX"): ["10 mx.sendgrid.net."]`; TXT values are plain text, quoted here).
A name in no key is NXDOMAIN; a known name without the asked type is an empty NOERROR answer.
`fail[name] = "servfail"` answers SERVFAIL for that name, `"timeout"` answers nothing at all.
Every question asked is kept in `queries`. dnspython builds and parses the messages.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import Literal, Self

import dns.flags
import dns.message
import dns.name
import dns.rcode
import dns.rdatatype
import dns.rrset
import pytest

Failure = Literal["servfail", "timeout"]


def _key(name: str) -> str:
    return name.rstrip(".").lower()


class FakeDNS:
    def __init__(self, records: Mapping[tuple[str, str], Sequence[str]] | None = None) -> None:
        self.records: dict[tuple[str, str], list[str]] = {}
        self.fail: dict[str, Failure] = {}
        self.queries: list[tuple[str, str]] = []
        for (name, rdtype), values in (records or {}).items():
            self.set(name, rdtype, values)
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._socket.bind(("127.0.0.1", 0))
        self._socket.settimeout(0.05)  # how often the loop looks for a stop request
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def host(self) -> str:
        return str(self._socket.getsockname()[0])

    @property
    def port(self) -> int:
        return int(self._socket.getsockname()[1])

    @property
    def address(self) -> str:
        """As NEWSLETTER_DNS_SERVER takes it."""
        return f"{self.host}:{self.port}"

    def set(self, name: str, rdtype: str, values: Sequence[str]) -> None:
        self.records[(_key(name), rdtype.upper())] = list(values)

    def start(self) -> Self:
        self._thread.start()
        return self

    def close(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=5)
        self._socket.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _serve(self) -> None:
        while not self._stopping.is_set():
            try:
                wire, client = self._socket.recvfrom(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            answer = self._answer(wire)
            if answer is not None:
                self._socket.sendto(answer, client)

    def _answer(self, wire: bytes) -> bytes | None:
        query = dns.message.from_wire(wire)
        question = query.question[0]
        name, rdtype = _key(question.name.to_text()), dns.rdatatype.to_text(question.rdtype)
        self.queries.append((name, rdtype))
        response = dns.message.make_response(query)
        response.flags |= dns.flags.AA
        failure = self.fail.get(name)
        if failure == "timeout":
            return None
        if failure == "servfail":
            response.set_rcode(dns.rcode.SERVFAIL)
        elif not any(known == name for known, _ in self.records):
            response.set_rcode(dns.rcode.NXDOMAIN)
        elif values := self.records.get((name, rdtype)):
            texts = [f'"{v}"' for v in values] if rdtype == "TXT" else values
            response.answer.append(dns.rrset.from_text(question.name, 300, "IN", rdtype, *texts))
        return response.to_wire()


Zone = dict[tuple[str, str], list[str]]


def sendgrid_zone(domain: str = "example.org", reply: str = "reply.example.org") -> Zone:
    """Every record SendGrid's domain authentication and Inbound Parse ask for, published."""
    return {
        (domain, "TXT"): ["v=spf1 include:sendgrid.net ~all", "google-site-verification=abc"],
        (f"s1._domainkey.{domain}", "CNAME"): ["s1.domainkey.u1234.wl.sendgrid.net."],
        (f"s2._domainkey.{domain}", "CNAME"): ["s2.domainkey.u1234.wl.sendgrid.net."],
        (f"_dmarc.{domain}", "TXT"): ["v=DMARC1; p=none; rua=mailto:dmarc@example.org"],
        (reply, "MX"): ["10 mx.sendgrid.net."],
    }


@pytest.fixture
def fake_dns() -> Iterator[FakeDNS]:
    with FakeDNS(sendgrid_zone()) as server:
        yield server
