"""Alert notifications: a generic JSON webhook, a Slack incoming webhook and e-mail over SMTP.

Configuration comes from a `get(name) -> str | None` function that the caller passes in (the CLI
reads environment variables, then `.streamlit/secrets.toml`; the page uses `ui.resources.config`):

    COSTDESK_WEBHOOK_URL         generic webhook (POST, JSON body)
    COSTDESK_SLACK_WEBHOOK_URL   Slack incoming webhook
    COSTDESK_SMTP_HOST, COSTDESK_SMTP_PORT (587), COSTDESK_SMTP_USER, COSTDESK_SMTP_PASSWORD,
    COSTDESK_SMTP_FROM, COSTDESK_ALERT_EMAIL_TO (comma-separated),
    COSTDESK_SMTP_TLS (starttls | ssl | none; default starttls on 587, ssl on 465, else none)
    COSTDESK_NOTIFY_RETRIES (3), COSTDESK_NOTIFY_TIMEOUT_S (10)

Each send is retried with exponential backoff; a failure is returned as a `Delivery` with a
reason that never contains a URL, a password or a server reply (URLs of webhooks are secrets).
"""

from __future__ import annotations

import json
import os
import smtplib
import ssl
import time
import tomllib
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from core.alerts import KIND_LABELS, Alert

Getter = Callable[[str], str | None]
SECRETS_FILE = Path(__file__).resolve().parent.parent / ".streamlit" / "secrets.toml"
CHANNELS = ("webhook", "slack", "email")


@dataclass(frozen=True)
class NotifyConfig:
    """Where alerts go. Secrets live here and nowhere else; `repr` hides them."""

    webhook_url: str = field(default="", repr=False)
    slack_webhook_url: str = field(default="", repr=False)
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_user: str = field(default="", repr=False)
    smtp_password: str = field(default="", repr=False)
    smtp_from: str = "costdesk@localhost"
    email_to: tuple[str, ...] = ()
    smtp_tls: str = "starttls"
    retries: int = 3
    timeout_s: float = 10.0
    backoff_s: float = 0.5

    @property
    def channels(self) -> tuple[str, ...]:
        """The channels that are configured."""
        out = []
        if self.webhook_url:
            out.append("webhook")
        if self.slack_webhook_url:
            out.append("slack")
        if self.smtp_host and self.email_to:
            out.append("email")
        return tuple(out)


@dataclass(frozen=True)
class Delivery:
    """How sending one message on one channel went."""

    channel: str
    ok: bool
    attempts: int
    error: str = ""


def env_or_secrets(name: str) -> str | None:
    """Environment variable, then `.streamlit/secrets.toml` (read without Streamlit)."""
    if os.environ.get(name):
        return os.environ[name]
    try:
        with SECRETS_FILE.open("rb") as fh:
            value = tomllib.load(fh).get(name)
    except (OSError, tomllib.TOMLDecodeError):
        return None
    return None if value is None else str(value)


def _int(text: str | None, default: int) -> int:
    try:
        return int(str(text).strip()) if text not in (None, "") else default
    except ValueError:
        return default


def load_config(get: Getter = env_or_secrets) -> NotifyConfig:
    """Notification settings from `get` (see the module docstring for the names)."""
    port = _int(get("COSTDESK_SMTP_PORT"), 587)
    tls_default = {587: "starttls", 465: "ssl"}.get(port, "none")
    tls = (get("COSTDESK_SMTP_TLS") or tls_default).strip().lower()
    to = tuple(a.strip() for a in (get("COSTDESK_ALERT_EMAIL_TO") or "").split(",") if a.strip())
    user = get("COSTDESK_SMTP_USER") or ""
    return NotifyConfig(
        webhook_url=(get("COSTDESK_WEBHOOK_URL") or "").strip(),
        slack_webhook_url=(get("COSTDESK_SLACK_WEBHOOK_URL") or "").strip(),
        smtp_host=(get("COSTDESK_SMTP_HOST") or "").strip(),
        smtp_port=port,
        smtp_user=user,
        smtp_password=get("COSTDESK_SMTP_PASSWORD") or "",
        smtp_from=(get("COSTDESK_SMTP_FROM") or user or "costdesk@localhost").strip(),
        email_to=to,
        smtp_tls=tls if tls in ("starttls", "ssl", "none") else tls_default,
        retries=max(0, _int(get("COSTDESK_NOTIFY_RETRIES"), 3)),
        timeout_s=float(_int(get("COSTDESK_NOTIFY_TIMEOUT_S"), 10)),
    )


def describe(config: NotifyConfig) -> dict[str, str]:
    """What each channel points at, safe to show: host names only, never a path or a secret."""
    out = {}
    if config.webhook_url:
        out["webhook"] = f"POST to {urlsplit(config.webhook_url).hostname or 'a URL'}"
    if config.slack_webhook_url:
        out["slack"] = f"Slack incoming webhook on {urlsplit(config.slack_webhook_url).hostname}"
    if "email" in config.channels:
        out["email"] = (
            f"{len(config.email_to)} recipient(s) via {config.smtp_host}:{config.smtp_port}"
        )
    return out


# ---------------------------------------------------------------- payloads


def alert_record(alert: Alert) -> dict[str, Any]:
    """One alert as JSON (the same keys as `alerts check --json`, plus context)."""
    return {
        "kind": alert.kind,
        "scope": alert.scope,
        "subject": alert.subject,
        "period": alert.period,
        "value": str(alert.value),
        "threshold": str(alert.threshold),
        "unit": alert.unit,
        "message": alert.message,
    }


def webhook_payload(alerts: list[Alert]) -> dict[str, Any]:
    """The generic webhook body."""
    return {"source": "costdesk", "count": len(alerts), "alerts": [alert_record(a) for a in alerts]}


def _title(alerts: list[Alert]) -> str:
    return f"Costdesk: {len(alerts)} alert{'s' if len(alerts) != 1 else ''}"


def slack_payload(alerts: list[Alert]) -> dict[str, Any]:
    """Slack incoming-webhook body: a plain `text` fallback plus one section block per alert."""
    lines = [f"*{KIND_LABELS.get(a.kind, a.kind)}* · {a.scope}: {a.message}" for a in alerts]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _title(alerts)}}
    ]
    blocks += [{"type": "section", "text": {"type": "mrkdwn", "text": line}} for line in lines]
    return {"text": _title(alerts) + "\n" + "\n".join(lines), "blocks": blocks[:50]}


def email_message(alerts: list[Alert], config: NotifyConfig) -> EmailMessage:
    """A plain-text e-mail listing every alert."""
    msg = EmailMessage()
    msg["Subject"] = _title(alerts) + (f" — {alerts[0].subject}" if len(alerts) == 1 else "")
    msg["From"] = config.smtp_from
    msg["To"] = ", ".join(config.email_to)
    body = [f"- {KIND_LABELS.get(a.kind, a.kind)} ({a.scope}): {a.message}" for a in alerts]
    msg.set_content("\n".join(body) + "\n\nOpen Costdesk > Budgets & alerts to acknowledge.\n")
    return msg


# ---------------------------------------------------------------- senders


def _reason(exc: BaseException) -> str:
    """A failure reason without secrets: an HTTP status or SMTP code and the exception type."""
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code}"
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"SMTP {exc.smtp_code}"
    if isinstance(exc, urllib.error.URLError):
        return f"connection failed ({type(exc.reason).__name__})"
    return type(exc).__name__


def post_json(url: str, payload: dict[str, Any], timeout_s: float) -> None:
    """POST `payload` as JSON; raises on a non-2xx answer or a network error."""
    body = json.dumps(payload).encode()
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=timeout_s) as response:
        response.read()


def send_email(message: EmailMessage, config: NotifyConfig) -> None:
    """Send `message` through the configured SMTP server."""
    if config.smtp_tls == "ssl":
        ctx = ssl.create_default_context()
        server: smtplib.SMTP = smtplib.SMTP_SSL(
            config.smtp_host, config.smtp_port, timeout=config.timeout_s, context=ctx
        )
    else:
        server = smtplib.SMTP(config.smtp_host, config.smtp_port, timeout=config.timeout_s)
    with server:
        if config.smtp_tls == "starttls":
            server.starttls(context=ssl.create_default_context())
        if config.smtp_user:
            server.login(config.smtp_user, config.smtp_password)
        server.send_message(message)


def with_retries(
    channel: str, send: Callable[[], None], config: NotifyConfig, sleep: Callable[[float], None]
) -> Delivery:
    """Call `send` until it succeeds, at most 1 + retries times, waiting backoff × 2^n between."""
    reason = ""
    for attempt in range(1, config.retries + 2):
        try:
            send()
            return Delivery(channel, True, attempt)
        except Exception as exc:
            reason = _reason(exc)
            if attempt <= config.retries:
                sleep(config.backoff_s * 2 ** (attempt - 1))
    return Delivery(channel, False, config.retries + 1, reason)


def deliver(
    alerts: list[Alert],
    config: NotifyConfig,
    channels: tuple[str, ...] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> list[Delivery]:
    """Send `alerts` as one message on each configured channel (or only `channels`)."""
    if not alerts:
        return []
    senders: dict[str, Callable[[], None]] = {
        "webhook": lambda: post_json(config.webhook_url, webhook_payload(alerts), config.timeout_s),
        "slack": lambda: post_json(
            config.slack_webhook_url, slack_payload(alerts), config.timeout_s
        ),
        "email": lambda: send_email(email_message(alerts, config), config),
    }
    wanted = [c for c in config.channels if channels is None or c in channels]
    return [with_retries(c, senders[c], config, sleep) for c in wanted]
