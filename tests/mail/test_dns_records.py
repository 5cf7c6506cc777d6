"""The mail domains' records, looked up by the real dnspython resolver on the loopback DNS fake."""

from __future__ import annotations

import time

import pytest

from newsletter.mail.dns_records import Nameserver, RecordCheck, sender_records
from newsletter.setting_values import parse_nameserver
from newsletter.settings import ConfigError, load_settings
from tests.fakes.dns_server import FakeDNS


def lookup(fake: FakeDNS, timeout: float = 2.0) -> dict[str, RecordCheck]:
    rows = sender_records("example.org", "reply.example.org", nameserver=Nameserver(fake.host, fake.port),
                          timeout=timeout)
    return {row.name.split()[0]: row for row in rows}


def test_every_record_published_is_ok(fake_dns: FakeDNS) -> None:
    rows = lookup(fake_dns)
    assert {kind: row.status for kind, row in rows.items()} == {
        "SPF": "ok", "DKIM": "ok", "DMARC": "ok", "MX": "ok"}
    assert "s1 → s1.domainkey.u1234.wl.sendgrid.net" in rows["DKIM"].detail
    assert ("example.org", "TXT") in fake_dns.queries
    assert ("reply.example.org", "MX") in fake_dns.queries


def test_an_empty_zone_names_each_record_to_publish() -> None:
    with FakeDNS({("example.org", "A"): ["192.0.2.1"]}) as fake:
        rows = lookup(fake)
    assert rows["SPF"].status == "warn"
    assert 'publish example.org. TXT "v=spf1 include:sendgrid.net ~all"' in rows["SPF"].detail
    assert rows["DKIM"].status == "fail"
    assert "s1._domainkey.example.org, s2._domainkey.example.org" in rows["DKIM"].detail
    assert rows["DMARC"].status == "warn"
    assert 'publish _dmarc.example.org. TXT "v=DMARC1; p=none' in rows["DMARC"].detail
    assert rows["MX"].status == "fail"
    assert "publish reply.example.org. MX 10 mx.sendgrid.net." in rows["MX"].detail


def test_wrong_records_say_what_is_wrong(fake_dns: FakeDNS) -> None:
    fake_dns.set("example.org", "TXT", ["v=spf1 include:_spf.google.com ~all"])
    fake_dns.set("s2._domainkey.example.org", "CNAME", ["s2.domainkey.mailhost.example.net."])
    fake_dns.set("_dmarc.example.org", "TXT", ["v=DMARC1; rua=mailto:x@example.org"])
    fake_dns.set("reply.example.org", "MX", ["10 mail.example.org."])
    rows = lookup(fake_dns)
    assert rows["SPF"].status == "warn" and "add include:sendgrid.net" in rows["SPF"].detail
    assert rows["DKIM"].status == "fail"
    assert "s2._domainkey.example.org → s2.domainkey.mailhost.example.net" in rows["DKIM"].detail
    assert rows["DMARC"].status == "fail" and "no p= policy" in rows["DMARC"].detail
    assert rows["MX"].status == "fail" and "MX is mail.example.org, not mx.sendgrid.net" in rows["MX"].detail


def test_two_spf_records_fail() -> None:
    with FakeDNS({("example.org", "TXT"): ["v=spf1 include:sendgrid.net ~all", "v=spf1 -all"]}) as fake:
        assert lookup(fake)["SPF"].status == "fail"


def test_a_subdomain_sender_falls_back_to_its_organisations_dmarc() -> None:
    with FakeDNS({("_dmarc.example.org", "TXT"): ["v=DMARC1; p=quarantine"],
                  ("news.example.org", "A"): ["192.0.2.1"]}) as fake:
        rows = sender_records("news.example.org", "reply.example.org",
                              nameserver=Nameserver(fake.host, fake.port), timeout=2.0)
    dmarc = next(row for row in rows if row.name.startswith("DMARC"))
    assert dmarc.status == "ok" and dmarc.detail.startswith("_dmarc.example.org:")


def test_a_servfail_warns_for_that_record_and_the_others_are_still_checked(fake_dns: FakeDNS) -> None:
    fake_dns.fail["_dmarc.example.org"] = "servfail"
    rows = lookup(fake_dns)
    assert rows["DMARC"].status == "warn"
    assert rows["DMARC"].detail.startswith("not checked:")
    assert rows["SPF"].status == rows["DKIM"].status == rows["MX"].status == "ok"


def test_a_resolver_that_does_not_answer_warns_once_and_does_not_wait_per_record(fake_dns: FakeDNS) -> None:
    fake_dns.fail["example.org"] = "timeout"
    started = time.monotonic()
    rows = lookup(fake_dns, timeout=0.3)
    assert time.monotonic() - started < 2.0  # one timeout, not four
    assert {row.status for row in rows.values()} == {"warn"}
    assert all("did not answer within 0.3 s" in row.detail for row in rows.values())
    assert fake_dns.queries == [("example.org", "TXT")]


@pytest.mark.parametrize(("value", "parsed"), [
    ("127.0.0.1", ("127.0.0.1", 53)), ("127.0.0.1:5353", ("127.0.0.1", 5353)),
    ("::1", ("::1", 53)), ("[::1]:5353", ("::1", 5353)),
])
def test_the_nameserver_setting_takes_an_address_and_a_port(value: str, parsed: tuple[str, int]) -> None:
    assert parse_nameserver(value) == parsed
    assert load_settings(dns_server=value).dns_server == value


@pytest.mark.parametrize("value", ["dns.example.org", "127.0.0.1:0", "127.0.0.1:x"])
def test_a_bad_nameserver_setting_is_named(value: str) -> None:
    with pytest.raises(ConfigError, match="NEWSLETTER_DNS_SERVER"):
        load_settings(dns_server=value)
