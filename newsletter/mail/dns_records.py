"""The DNS records that make our mail arrive, looked up with dnspython for `newsletter check`.

Since 2024 Gmail and Yahoo refuse or spam-folder bulk mail whose From domain has no SPF or DKIM
aligned with it, or no DMARC record. With SendGrid's domain authentication the sender's domain
publishes SPF (`include:sendgrid.net`), two DKIM CNAMEs (`s1._domainkey`, `s2._domainkey` →
`….sendgrid.net`) and a DMARC record; the reply domain's MX must be `mx.sendgrid.net`, or
Inbound Parse never sees a reply (and a reply "unsubscribe" is lost).

Each row says what is there, what is missing and what to publish. A resolver that does not answer
(offline, a timeout, SERVFAIL) gives a warning, never a failure: it says nothing of the records.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import dns.exception
import dns.resolver

RecordStatus = Literal["ok", "warn", "fail"]
SENDGRID_MX = "mx.sendgrid.net"
SENDGRID_SPF = "include:sendgrid.net"
DKIM_SELECTORS = ("s1", "s2")  # SendGrid's automated security: CNAMEs to its rotating keys


@dataclass(frozen=True, slots=True)
class RecordCheck:
    name: str
    status: RecordStatus
    detail: str


@dataclass(frozen=True, slots=True)
class Nameserver:
    """One resolver to ask (an IP address, and a port), instead of the system's ones."""

    host: str
    port: int = 53


class LookupFailed(Exception):
    """The resolver did not answer (timeout, SERVFAIL, no resolver configured)."""


class Lookup:
    """dnspython's resolver; after one timeout the others fail at once (offline: one wait, not seven)."""

    def __init__(self, nameserver: Nameserver | None = None, *, timeout: float = 5.0) -> None:
        self.down: str | None = None
        try:
            self.resolver = dns.resolver.Resolver(configure=nameserver is None)
        except dns.resolver.NoResolverConfiguration:
            self.resolver = dns.resolver.Resolver(configure=False)
            self.down = "no DNS resolver is configured (/etc/resolv.conf)"
        if nameserver is not None:
            self.resolver.nameservers = [nameserver.host]
            self.resolver.port = nameserver.port
        self.resolver.timeout = timeout
        self.resolver.lifetime = timeout

    def answers(self, name: str, rdtype: str) -> list[str]:
        """The records' values (TXT strings joined, targets without the final dot); [] when none."""
        if self.down:
            raise LookupFailed(self.down)
        try:
            answer = self.resolver.resolve(name.rstrip(".") + ".", rdtype, search=False,
                                           raise_on_no_answer=False)
        except dns.resolver.NXDOMAIN:
            return []
        except dns.exception.Timeout:
            self.down = f"the DNS resolver did not answer within {self.resolver.lifetime:g} s"
            raise LookupFailed(self.down) from None
        except dns.exception.DNSException as exc:  # SERVFAIL from every server, a refused query
            raise LookupFailed(f"{name} {rdtype}: {exc}") from None
        if answer.rrset is None:
            return []
        if rdtype == "TXT":
            return [b"".join(r.strings).decode("utf-8", "replace") for r in answer.rrset]
        if rdtype == "MX":
            return [r.exchange.to_text().rstrip(".").lower() for r in answer.rrset]
        return [r.to_text().rstrip(".").lower() for r in answer.rrset]


def check_spf(lookup: Lookup, domain: str) -> RecordCheck:
    name = f"SPF {domain}"
    records = [t for t in lookup.answers(domain, "TXT") if t.lower().startswith("v=spf1")]
    publish = f'publish {domain}. TXT "v=spf1 {SENDGRID_SPF} ~all"'
    if not records:
        return RecordCheck(name, "warn", f"no SPF record (TXT v=spf1): {publish} (SendGrid's automated"
                           " security covers SPF on its own em… return-path subdomain; the record helps"
                           " receivers that check the From domain)")
    if len(records) > 1:
        return RecordCheck(name, "fail", f"{len(records)} SPF records: receivers treat that as an error;"
                           f" merge them into one that has {SENDGRID_SPF}")
    if SENDGRID_SPF not in records[0].lower().split():
        return RecordCheck(name, "warn", f"{records[0]!r} does not name SendGrid: add {SENDGRID_SPF}"
                           " before its all term")
    return RecordCheck(name, "ok", records[0])


def check_dkim(lookup: Lookup, domain: str) -> RecordCheck:
    name = f"DKIM {domain}"
    found, missing, wrong = [], [], []
    for selector in DKIM_SELECTORS:
        host = f"{selector}._domainkey.{domain}"
        targets = lookup.answers(host, "CNAME")
        if not targets:
            missing.append(host)
        elif all(t.endswith(".sendgrid.net") for t in targets):
            found.append(f"{selector} → {targets[0]}")
        else:
            wrong.append(f"{host} → {targets[0]}")
    if wrong:
        return RecordCheck(name, "fail", f"{'; '.join(wrong)}: not SendGrid's key; point it to the"
                           " …sendgrid.net target that SendGrid's Sender Authentication page shows")
    if missing:
        if not found and _has_key(lookup.answers(f"m1._domainkey.{domain}", "TXT")):
            return RecordCheck(name, "ok", f"m1._domainkey.{domain} TXT (SendGrid's automated security off)")
        return RecordCheck(name, "fail", f"no CNAME at {', '.join(missing)}: authenticate {domain} in"
                           " SendGrid (Settings → Sender Authentication) and publish the CNAMEs it"
                           " shows (s1/s2._domainkey → s1/s2.domainkey.u….wl….sendgrid.net); without"
                           " DKIM Gmail and Yahoo refuse or spam-folder the digests")
    return RecordCheck(name, "ok", "; ".join(found))


def _has_key(texts: list[str]) -> bool:
    return any("p=" in t.replace(" ", "") for t in texts)


def _dmarc_names(domain: str) -> list[str]:
    """`_dmarc.<domain>`, then the parents' (a subdomain falls back to its organisation's policy)."""
    labels = domain.split(".")
    return [f"_dmarc.{'.'.join(labels[i:])}" for i in range(max(1, len(labels) - 1))]


def check_dmarc(lookup: Lookup, domain: str) -> RecordCheck:
    name = f"DMARC {domain}"
    for host in _dmarc_names(domain):
        texts = lookup.answers(host, "TXT")
        records = [t for t in texts if t.replace(" ", "").upper().startswith("V=DMARC1")]
        if records:
            tags = dict(part.strip().partition("=")[::2] for part in records[0].split(";") if "=" in part)
            if "p" not in {k.strip().lower() for k in tags}:
                return RecordCheck(name, "fail", f"{host}: {records[0]!r} has no p= policy tag: receivers"
                                   " ignore it; add p=none at least")
            return RecordCheck(name, "ok", f"{host}: {records[0]}")
    return RecordCheck(name, "warn", f"no DMARC record: publish _dmarc.{domain}. TXT"
                       f' "v=DMARC1; p=none; rua=mailto:dmarc@{domain}" (Gmail and Yahoo require one'
                       " from senders of 5,000 or more messages a day)")


def check_mx(lookup: Lookup, domain: str) -> RecordCheck:
    name = f"MX {domain}"
    publish = f"publish {domain}. MX 10 {SENDGRID_MX}."
    hosts = lookup.answers(domain, "MX")
    if SENDGRID_MX in hosts:
        return RecordCheck(name, "ok", f"{SENDGRID_MX}: replies reach Inbound Parse")
    if not hosts:
        return RecordCheck(name, "fail", f"no MX record: replies (and unsubscribes by reply) bounce;"
                           f" {publish}")
    return RecordCheck(name, "fail", f"MX is {', '.join(hosts)}, not {SENDGRID_MX}: Inbound Parse"
                       f" never sees the replies; {publish} (and add the host in SendGrid's Inbound Parse)")


def sender_records(
    from_domain: str, reply_domain: str, *, nameserver: Nameserver | None = None, timeout: float = 5.0
) -> list[RecordCheck]:
    """SPF, DKIM and DMARC of the From domain, and the reply domain's MX: one row each."""
    lookup = Lookup(nameserver, timeout=timeout)
    rows: list[tuple[str, Callable[[Lookup, str], RecordCheck], str]] = [
        ("SPF", check_spf, from_domain), ("DKIM", check_dkim, from_domain),
        ("DMARC", check_dmarc, from_domain), ("MX", check_mx, reply_domain),
    ]
    checks = []
    for kind, check, domain in rows:
        try:
            checks.append(check(lookup, domain.lower()))
        except LookupFailed as exc:
            checks.append(RecordCheck(f"{kind} {domain}", "warn", f"not checked: {exc}"))
    return checks
