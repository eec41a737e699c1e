"""Notifications received by real loopback servers: webhook, Slack format and SMTP e-mail."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from email import message_from_bytes
from email.policy import default as email_policy
from pathlib import Path

import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword

import integrations.notify as notify
from core.alerts import Alert
from integrations.notify import Delivery, NotifyConfig, deliver, describe, load_config
from tests.integrations.servers import Receiver, smtp_server

ALERT = Alert(
    kind="budget",
    scope="project:search",
    subject="Search",
    key="budget:Search:90",
    period="2026-03",
    value=Decimal("92.50"),
    threshold=Decimal(90),
    unit="%",
    message="Budget 'Search' has used 92.50 %. Check the top models.",
)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    server = Receiver().start()
    yield server
    server.stop()


def _no_sleep(waits: list[float]):
    return waits.append


def test_generic_webhook_gets_json(receiver: Receiver) -> None:
    config = NotifyConfig(webhook_url=receiver.url)
    assert deliver([ALERT], config, sleep=_no_sleep([])) == [Delivery("webhook", True, 1)]
    (got,) = receiver.received
    assert got["type"] == "application/json"
    assert got["json"]["count"] == 1
    alert = got["json"]["alerts"][0]
    assert alert["kind"] == "budget" and alert["value"] == "92.50" and alert["threshold"] == "90"
    assert alert["message"].startswith("Budget 'Search'")


def test_slack_incoming_webhook_format(receiver: Receiver) -> None:
    config = NotifyConfig(slack_webhook_url=receiver.url)
    assert deliver([ALERT, ALERT], config, sleep=_no_sleep([]))[0].ok
    body = receiver.received[0]["json"]
    assert body["text"].startswith("Costdesk: 2 alerts")
    assert body["blocks"][0]["type"] == "header"
    assert body["blocks"][1] == {
        "type": "section",
        "text": {"type": "mrkdwn", "text": f"*Budget threshold* · project:search: {ALERT.message}"},
    }


def test_server_failing_first_then_recovering_with_backoff() -> None:
    server = Receiver(fail_first=2, status=503).start()
    try:
        waits: list[float] = []
        config = NotifyConfig(webhook_url=server.url, retries=3, backoff_s=0.01)
        (delivery,) = deliver([ALERT], config, sleep=_no_sleep(waits))
        assert delivery == Delivery("webhook", True, 3)
        assert waits == [0.01, 0.02]  # exponential: backoff × 2^n
        assert server.attempts == 3 and len(server.received) == 1
    finally:
        server.stop()


def test_failure_is_reported_without_the_secret_url() -> None:
    server = Receiver(fail_first=99).start()
    try:
        config = NotifyConfig(slack_webhook_url=server.url, retries=2, backoff_s=0)
        (delivery,) = deliver([ALERT], config, sleep=_no_sleep([]))
        assert delivery == Delivery("slack", False, 3, "HTTP 500")
        assert "SECRET" not in repr(delivery) and "SECRET" not in repr(config)
    finally:
        server.stop()


def test_unreachable_server_never_raises(receiver: Receiver) -> None:
    url = receiver.url
    receiver.stop()
    (delivery,) = deliver([ALERT], NotifyConfig(webhook_url=url, retries=1, backoff_s=0))
    assert not delivery.ok and delivery.attempts == 2
    assert delivery.error.startswith("connection failed") and "127.0.0.1" not in delivery.error


def test_email_over_smtp() -> None:
    controller, sink = smtp_server()
    try:
        config = NotifyConfig(
            smtp_host="127.0.0.1",
            smtp_port=controller.port,
            smtp_tls="none",
            smtp_from="costdesk@example.test",
            email_to=("lead@example.test", "ops@example.test"),
        )
        assert deliver([ALERT], config, sleep=_no_sleep([])) == [Delivery("email", True, 1)]
        (envelope,) = sink.messages
        assert envelope.rcpt_tos == ["lead@example.test", "ops@example.test"]
        msg = message_from_bytes(envelope.content, policy=email_policy)
        assert msg["Subject"] == "Costdesk: 1 alert — Search"
        assert "92.50 %" in msg.get_content()
    finally:
        controller.stop()


def test_email_with_login() -> None:
    seen: list[tuple[bytes, bytes]] = []

    def authenticator(server, session, envelope, mechanism, auth_data):
        assert isinstance(auth_data, LoginPassword)
        seen.append((bytes(auth_data.login), bytes(auth_data.password)))
        return AuthResult(success=bytes(auth_data.password) == b"s3cret")

    controller, sink = smtp_server(authenticator=authenticator, auth_require_tls=False)
    try:
        base = {"smtp_host": "127.0.0.1", "smtp_port": controller.port, "smtp_tls": "none"}
        good = NotifyConfig(**base, smtp_user="bot", smtp_password="s3cret", email_to=("a@x.test",))
        assert deliver([ALERT], good, sleep=_no_sleep([]))[0].ok
        bad = NotifyConfig(
            **base,
            smtp_user="bot",
            smtp_password="wrong",
            email_to=("a@x.test",),
            retries=0,
            timeout_s=1,
        )
        (failed,) = deliver([ALERT], bad, sleep=_no_sleep([]))
        assert not failed.ok and failed.attempts == 1 and "wrong" not in failed.error
        assert seen[0] == (b"bot", b"s3cret") and len(sink.messages) == 1
    finally:
        controller.stop()


def test_smtp_server_failing_first_then_recovering() -> None:
    controller, sink = smtp_server()
    port = controller.port
    controller.stop()  # down for the first attempt
    waits: list[float] = []

    def sleep_and_restart(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == 1:
            nonlocal controller
            controller = type(controller)(sink, hostname="127.0.0.1", port=port)
            controller.start()

    config = NotifyConfig(
        smtp_host="127.0.0.1", smtp_port=port, smtp_tls="none", email_to=("a@x.test",)
    )
    try:
        (delivery,) = deliver([ALERT], config, sleep=sleep_and_restart)
        assert delivery == Delivery("email", True, 2) and len(sink.messages) == 1
    finally:
        controller.stop()


def test_load_config_from_getter_and_channels() -> None:
    values = {
        "COSTDESK_WEBHOOK_URL": "https://hooks.example.test/abc",
        "COSTDESK_SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T/B/XYZ",
        "COSTDESK_SMTP_HOST": "smtp.example.test",
        "COSTDESK_SMTP_PORT": "465",
        "COSTDESK_SMTP_PASSWORD": "pw-123",
        "COSTDESK_ALERT_EMAIL_TO": "a@x.test, b@x.test",
    }
    config = load_config(values.get)
    assert config.channels == ("webhook", "slack", "email")
    assert config.smtp_tls == "ssl" and config.email_to == ("a@x.test", "b@x.test")
    shown = " ".join(describe(config).values()) + repr(config)
    for secret in ("abc", "XYZ", "pw-123", "/services/"):
        assert secret not in shown
    assert load_config({}.get).channels == ()


def test_env_then_secrets_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secrets = tmp_path / "secrets.toml"
    secrets.write_text(
        'COSTDESK_WEBHOOK_URL = "https://from-file.test/x"\nCOSTDESK_SMTP_PORT = 2525\n'
    )
    monkeypatch.setattr(notify, "SECRETS_FILE", secrets)
    monkeypatch.delenv("COSTDESK_WEBHOOK_URL", raising=False)
    assert notify.env_or_secrets("COSTDESK_WEBHOOK_URL") == "https://from-file.test/x"
    assert notify.env_or_secrets("COSTDESK_SMTP_PORT") == "2525"
    monkeypatch.setenv("COSTDESK_WEBHOOK_URL", "https://from-env.test/y")
    assert notify.env_or_secrets("COSTDESK_WEBHOOK_URL") == "https://from-env.test/y"
    monkeypatch.setattr(notify, "SECRETS_FILE", tmp_path / "missing.toml")
    assert notify.env_or_secrets("COSTDESK_SLACK_WEBHOOK_URL") is None
