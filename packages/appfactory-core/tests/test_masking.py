"""Masking of secrets wherever a setting is shown."""

from __future__ import annotations

import typing as t

import pytest

from appfactory.core.masking import MASK, is_secret_name, mask_url, mask_value, masked_repr


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("SECRET_KEY", True),
        ("DB_PASSWORD", True),
        ("SMTP_PASSWD", True),
        ("API_TOKEN", True),
        ("GITHUB_TOKEN_RO", True),
        ("STRIPE_APIKEY", True),
        ("STRIPE_API_KEY", True),
        ("KEY", True),
        ("AWS_CREDENTIALS", True),
        ("secret_key", True),
        ("JSON_SORT_KEYS", False),
        ("MYMODULE_GREETING", False),
        ("KEYBOARD_LAYOUT", False),
        ("MONKEY_MODE", False),
        ("SESSION_COOKIE_NAME", False),
        ("CELERY_BROKER_URL", False),
    ],
)
def test_is_secret_name(name: str, secret: bool) -> None:
    assert is_secret_name(name) is secret


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("redis://:hunter2@127.0.0.1:6379/0", "redis://:********@127.0.0.1:6379/0"),
        ("redis://user:hunter2@localhost:6379/0", "redis://user:********@localhost:6379/0"),
        ("amqp://user:pass@host//", "amqp://user:********@host//"),
        (
            "postgresql://app:s3cr%40t@db.example:5432/app",
            "postgresql://app:********@db.example:5432/app",
        ),
        (
            "postgresql+psycopg://app:pw@db/app?sslmode=require",
            "postgresql+psycopg://app:********@db/app?sslmode=require",
        ),
        (
            "primary redis://:a@h1/0, replica redis://:b@h2/0",
            "primary redis://:********@h1/0, replica redis://:********@h2/0",
        ),
        ("redis://:p@ss@host:6379/0", "redis://:********@host:6379/0"),
        ("amqp://user:p@ss:w@rd@host//", "amqp://user:********@host//"),
        ("redis://localhost:6379/0", "redis://localhost:6379/0"),
        ("http://host:8080?email=a@b.c", "http://host:8080?email=a@b.c"),
        ("http://host:8080#a@b", "http://host:8080#a@b"),
        ("amqp://guest@localhost//", "amqp://guest@localhost//"),
        ("sqlite:////var/app.db", "sqlite:////var/app.db"),
        ("http://example.com/a:b@c", "http://example.com/a:b@c"),
        ("not a url: user:pass@host", "not a url: user:pass@host"),
    ],
)
def test_mask_url(text: str, expected: str) -> None:
    assert mask_url(text) == expected


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("SECRET_KEY", "abc", MASK),
        ("SECRET_KEY", b"abc", MASK),
        ("DB_PASSWORD", 1234, MASK),
        ("SECRET_KEY", None, None),
        ("SECRET_KEY", "", ""),
        ("MYMODULE_GREETING", "Hello, World!", "Hello, World!"),
        ("PORT", 8080, 8080),
        ("CELERY_BROKER_URL", "amqp://u:p@host//", "amqp://u:********@host//"),
        (
            "CELERY_BROKER_TRANSPORT_OPTIONS",
            {"password": "p", "nested": {"api_token": "t", "url": "redis://:p@h/0"}, "n": 1},
            {
                "password": MASK,
                "nested": {"api_token": MASK, "url": "redis://:********@h/0"},
                "n": 1,
            },
        ),
        (
            "DATABASES",
            ["sqlite://", "postgresql://u:p@db/app", {"secret": "s"}],
            ["sqlite://", "postgresql://u:********@db/app", {"secret": MASK}],
        ),
        (
            "REPLICAS",
            ("redis://:a@h1/0", "redis://h2/0"),
            ("redis://:********@h1/0", "redis://h2/0"),
        ),
        ("API_TOKENS", {"a": "b"}, MASK),
    ],
)
def test_mask_value(name: str, value: t.Any, expected: t.Any) -> None:
    masked = mask_value(name, value)

    assert masked == expected
    assert type(masked) is type(expected)


def test_mask_value_leaves_the_original_alone() -> None:
    value = {"password": "p", "urls": ["redis://:p@h/0"]}

    mask_value("OPTIONS", value)

    assert value == {"password": "p", "urls": ["redis://:p@h/0"]}


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("SECRET_KEY", "abc", MASK),
        ("MYMODULE_GREETING", "Hello", "'Hello'"),
        ("BROKER_URL", "redis://:pw@h/0", "'redis://:********@h/0'"),
        ("PORT", 80, "80"),
    ],
)
def test_masked_repr(name: str, value: t.Any, expected: str) -> None:
    assert masked_repr(name, value) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # Passwords with raw characters that end a URL's authority (not percent-encoded).
        ("redis://:pl/ant#x@host/0", "redis://:********@host/0"),
        ("redis://:p?w@host:6379/0", "redis://:********@host:6379/0"),
        ("redis://:a+b/c@host/0", "redis://:********@host/0"),
        ("amqp://user:12/34@rabbit//", "amqp://user:********@rabbit//"),
        ("'redis://:pl/ant#x@host/0'", "'redis://:********@host/0'"),
        (
            "redis://:a/b@h1/0;redis://:c#d@h2/0",
            "redis://:********@h1/0;redis://:********@h2/0",
        ),
        # Secrets in the query string.
        ("redis://host/0?password=X", "redis://host/0?password=********"),
        (
            "postgresql://db/app?sslmode=require&sslkey=/k.pem&sslpassword=pw",
            "postgresql://db/app?sslmode=require&sslkey=********&sslpassword=********",
        ),
        (
            "rediss://h/0?ssl_cert_reqs=none&token=t1",
            "rediss://h/0?ssl_cert_reqs=none&token=********",
        ),
        (
            "sqs://?region=eu&aws_secret_access_key=abc",
            "sqs://?region=eu&aws_secret_access_key=********",
        ),
    ],
)
def test_mask_url_without_a_clean_parse(text: str, expected: str) -> None:
    assert mask_url(text) == expected


@pytest.mark.parametrize(
    "name",
    ["DB_PASS", "SMTP_PASSPHRASE", "GCP_CREDENTIALS", "SSH_PRIVATE_KEY", "LDAP_PWD", "PROXY_AUTH"],
)
def test_more_secret_names(name: str) -> None:
    assert is_secret_name(name)
    assert masked_repr(name, "planted") == MASK


@pytest.mark.parametrize("name", ["PASSENGER_LIMIT", "AUTHOR_NAME", "KEYWORDS", "MONKEYPATCH"])
def test_names_that_only_look_secret(name: str) -> None:
    assert not is_secret_name(name)


def test_a_value_that_contains_itself() -> None:
    loop: dict[str, t.Any] = {"url": "redis://:pw@h/0"}
    loop["self"] = loop
    items: list[t.Any] = ["redis://:pw@h/0"]
    items.append(items)

    assert masked_repr("OPTIONS", loop) == "{'url': 'redis://:********@h/0', 'self': Ellipsis}"
    assert masked_repr("ITEMS", items) == "['redis://:********@h/0', Ellipsis]"
