"""Broker modes: the embedded broker stays on loopback; broker URLs are checked with clear errors."""

from __future__ import annotations

import socket

import pytest

from impetus.aggregator.broker import BrokerStartError, BrokerUrlError, EmbeddedBroker, parse_broker_url


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("mqtt://127.0.0.1:1884", ("127.0.0.1", 1884)),
        ("mqtt://broker.city.example", ("broker.city.example", 1883)),
        ("mqtt://[::1]:1885", ("::1", 1885)),
    ],
)
def test_broker_urls_give_host_and_port(url, expected):
    assert parse_broker_url(url) == expected


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("tcp://127.0.0.1:1883", "unknown scheme 'tcp'"),
        ("127.0.0.1:1883", "unknown scheme"),
        ("mqtts://127.0.0.1:8883", "TLS"),
        ("mqtt://127.0.0.1:99999", "port is not a number in 1-65535"),
        ("mqtt://127.0.0.1:http", "port is not a number"),
        ("mqtt://:1883", "names no host"),
        ("mqtt://127.0.0.1:1883/events", "path"),
        ("mqtt://user:secret@127.0.0.1:1883", "credentials"),
    ],
)
def test_a_bad_broker_url_is_refused_saying_what_was_expected(url, words):
    with pytest.raises(BrokerUrlError) as refused:
        parse_broker_url(url)
    assert words in str(refused.value)
    assert "expected mqtt://HOST:PORT" in str(refused.value)


def test_the_embedded_broker_refuses_to_listen_beyond_loopback():
    with pytest.raises(BrokerUrlError, match="loopback only"):
        EmbeddedBroker(host="0.0.0.0")


def test_the_embedded_broker_listens_on_loopback_and_stops(embedded_broker):
    host, port = parse_broker_url(embedded_broker.url)
    assert host == "127.0.0.1"
    with socket.create_connection((host, port), timeout=2):
        pass
    embedded_broker.stop()
    with pytest.raises(OSError):
        socket.create_connection((host, port), timeout=2).close()


def test_a_taken_port_is_reported_by_the_embedded_broker(embedded_broker):
    taken = parse_broker_url(embedded_broker.url)[1]
    with pytest.raises(BrokerStartError, match=f"127.0.0.1:{taken}"):
        EmbeddedBroker(port=taken).start()
