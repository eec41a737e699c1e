"""Notifications received by real loopback servers: webhook, Slack format and SMTP e-mail."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal
from email import message_from_bytes
from email.policy import default as email_policy
from pathlib import Path

import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword

import integrations.notify as notify
import integrations.settings as settings
from core.alerts import Alert
from integrations.notify import Delivery, NotifyConfig, deliver, describe, load_config
from tests.integrations.servers import Dripper, Receiver, smtp_server, starttls_server

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
    monkeypatch.setattr(settings, "SECRETS_FILE", secrets)
    monkeypatch.delenv("COSTDESK_WEBHOOK_URL", raising=False)
    assert notify.env_or_secrets("COSTDESK_WEBHOOK_URL") == "https://from-file.test/x"
    assert notify.env_or_secrets("COSTDESK_SMTP_PORT") == "2525"
    monkeypatch.setenv("COSTDESK_WEBHOOK_URL", "https://from-env.test/y")
    assert notify.env_or_secrets("COSTDESK_WEBHOOK_URL") == "https://from-env.test/y"
    monkeypatch.setattr(settings, "SECRETS_FILE", tmp_path / "missing.toml")
    assert notify.env_or_secrets("COSTDESK_SLACK_WEBHOOK_URL") is None


# ---------------------------------------------------------------- hostile servers and input


def _attempt_threads_left(wait_s: float) -> list[threading.Thread]:
    """Attempt threads still alive after waiting up to `wait_s` for them to end."""
    end = time.monotonic() + wait_s
    while True:
        left = [t for t in threading.enumerate() if t.name == "costdesk-notify-attempt"]
        if not left or time.monotonic() > end:
            return left
        time.sleep(0.05)


def test_slow_drip_webhook_is_cut_at_the_deadline_while_email_goes_out() -> None:
    drip = Dripper(interval_s=1.0).start()
    controller, sink = smtp_server()
    try:
        config = NotifyConfig(
            webhook_url=drip.url,
            smtp_host="127.0.0.1",
            smtp_port=controller.port,
            smtp_tls="none",
            email_to=("a@x.test",),
            timeout_s=1.5,  # a byte comes every 1 s, so no socket timeout would ever fire
            deadline_s=3,
            retries=5,
            backoff_s=0.1,
        )
        started = time.monotonic()
        hook, email = deliver([ALERT], config)
        elapsed = time.monotonic() - started
        assert 2.5 < elapsed < 4.5
        assert (hook.channel, hook.ok, hook.attempts) == ("webhook", False, 2)
        assert hook.error.startswith("no complete answer within 1.")
        assert email == Delivery("email", True, 1) and len(sink.messages) == 1
        assert sink.received_at[0] - started < 1.0  # e-mail did not wait for the webhook
        assert _attempt_threads_left(3.0) == []  # the cut connections ended, none left behind
        assert drip.attempts == 2
    finally:
        drip.stop()
        controller.stop()


def test_redirect_is_a_failure_and_never_followed() -> None:
    elsewhere = Receiver().start()
    mover = Receiver(redirect_to=elsewhere.url).start()
    try:
        config = NotifyConfig(slack_webhook_url=mover.url, retries=1, backoff_s=0)
        (delivery,) = deliver([ALERT], config)
        assert delivery == Delivery(
            "slack", False, 2, "HTTP 302 redirect to 127.0.0.1 (not followed)"
        )
        assert mover.attempts == 2 and mover.received == []
        assert elsewhere.attempts == 0  # not even a bodiless GET went to the other port
    finally:
        mover.stop()
        elsewhere.stop()


def test_failure_reasons_never_hold_the_webhook_secret(receiver: Receiver) -> None:
    drip = Dripper(interval_s=1.0).start()
    failing = Receiver(fail_first=99).start()
    mover = Receiver(redirect_to=receiver.url + "?token=SECRET-2").start()
    closed = Receiver().start()
    closed_url = closed.url
    closed.stop()
    try:
        urls = [drip.url, failing.url, mover.url, closed_url, "ftp://x/SECRET-TOKEN", "SECRET"]
        reasons = []
        for url in urls:
            config = NotifyConfig(slack_webhook_url=url, retries=0, timeout_s=1.2)
            reasons += [d.error for d in deliver([ALERT], config)]
        assert all(reasons) and len(reasons) == len(urls)
        for reason in reasons:
            assert "SECRET" not in reason and "/services/" not in reason and "hooks" not in reason
    finally:
        drip.stop()
        failing.stop()
        mover.stop()


def _recording_authenticator(seen: list[tuple[bytes, bytes]]):
    def authenticator(server, session, envelope, mechanism, auth_data):
        seen.append((bytes(auth_data.login), bytes(auth_data.password)))
        return AuthResult(success=True)

    return authenticator


def _smtp_settings(port: int, **extra: str) -> dict[str, str]:
    return {
        "COSTDESK_SMTP_HOST": "127.0.0.1",
        "COSTDESK_SMTP_PORT": str(port),
        "COSTDESK_SMTP_USER": "bot",
        "COSTDESK_SMTP_PASSWORD": "pw-plain-123",
        "COSTDESK_ALERT_EMAIL_TO": "a@x.test",
        "COSTDESK_NOTIFY_RETRIES": "0",
        **extra,
    }


def test_credentials_are_never_sent_in_plain_text_by_default() -> None:
    seen: list[tuple[bytes, bytes]] = []
    # A server that would take a password in plain text and offers no STARTTLS.
    controller, sink = smtp_server(
        authenticator=_recording_authenticator(seen), auth_require_tls=False
    )
    try:
        config = load_config(_smtp_settings(controller.port).get)
        assert config.smtp_tls == "starttls"  # the default on any port but 465
        (delivery,) = deliver([ALERT], config)
        assert not delivery.ok and "STARTTLS" in delivery.error
        assert "COSTDESK_SMTP_TLS=none" in delivery.error and "pw-plain" not in delivery.error
        assert seen == [] and sink.messages == []
    finally:
        controller.stop()


def test_tls_off_on_purpose_sends_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    seen: list[tuple[bytes, bytes]] = []
    controller, sink = smtp_server(
        authenticator=_recording_authenticator(seen), auth_require_tls=False
    )
    try:
        settings = _smtp_settings(controller.port, COSTDESK_SMTP_TLS="none")
        with caplog.at_level(logging.WARNING, logger="costdesk.notify"):
            (delivery,) = deliver([ALERT], load_config(settings.get))
        assert delivery.ok and "without TLS" in delivery.warning
        assert "password is sent in plain text" in delivery.warning
        assert any("without TLS" in r.getMessage() for r in caplog.records)
        assert "pw-plain-123" not in caplog.text
        assert seen == [(b"bot", b"pw-plain-123")] and len(sink.messages) == 1
    finally:
        controller.stop()


def test_starttls_by_default_carries_the_login(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[bytes, bytes]] = []
    controller, sink, cert = starttls_server(tmp_path, authenticator=_recording_authenticator(seen))
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # trust the throwaway certificate
    try:
        (delivery,) = deliver([ALERT], load_config(_smtp_settings(controller.port).get))
        assert delivery == Delivery("email", True, 1) and delivery.warning == ""
        assert seen == [(b"bot", b"pw-plain-123")] and len(sink.messages) == 1
    finally:
        controller.stop()


def test_tls_setting_defaults_and_explicit_values() -> None:
    def tls(**values: str) -> str:
        return load_config(values.get).smtp_tls

    assert tls() == "starttls"
    assert tls(COSTDESK_SMTP_PORT="25") == tls(COSTDESK_SMTP_PORT="2525") == "starttls"
    assert tls(COSTDESK_SMTP_PORT="465") == "ssl"
    assert tls(COSTDESK_SMTP_PORT="25", COSTDESK_SMTP_TLS="None ") == "none"
    assert tls(COSTDESK_SMTP_TLS="off") == "starttls"  # unknown: the safe default
    timing = load_config(
        {"COSTDESK_NOTIFY_TIMEOUT_S": "2.5", "COSTDESK_NOTIFY_DEADLINE_S": "-1"}.get
    )
    assert (timing.timeout_s, timing.deadline_s) == (2.5, 30.0)


def test_a_name_cannot_add_mail_headers() -> None:
    hostile = replace(ALERT, subject="Search\r\nBcc: x@evil.test\r\n", scope="all\r\nX-A: 1")
    controller, sink = smtp_server()
    try:
        config = NotifyConfig(
            smtp_host="127.0.0.1",
            smtp_port=controller.port,
            smtp_tls="none",
            smtp_from="costdesk@example.test\r\nCc: y@evil.test",
            email_to=("lead@example.test",),
        )
        assert deliver([hostile], config) == [Delivery("email", True, 1)]
        (envelope,) = sink.messages
        assert envelope.rcpt_tos == ["lead@example.test"]
        msg = message_from_bytes(envelope.content, policy=email_policy)
        assert msg["Bcc"] is None and msg["Cc"] is None and msg["X-A"] is None
        assert set(msg.keys()) == {
            "Subject", "From", "To", "Content-Type", "Content-Transfer-Encoding", "MIME-Version",
        }  # fmt: skip
        assert msg["Subject"] == "Costdesk: 1 alert — Search Bcc: x@evil.test"
        head = envelope.content.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
        assert len(head) == 6 and not any(line.lower().startswith(b"bcc") for line in head)
    finally:
        controller.stop()


def test_slack_text_cannot_mention_everyone(receiver: Receiver) -> None:
    hostile = replace(ALERT, message="Budget '<!channel> & <https://x.test|click>' is over.")
    deliver([hostile], NotifyConfig(slack_webhook_url=receiver.url))
    text = receiver.received[0]["json"]["blocks"][1]["text"]["text"]
    assert (
        "<!channel>" not in text and "&lt;!channel&gt; &amp; &lt;https://x.test|click&gt;" in text
    )
