"""Alert notifications: a generic JSON webhook, a Slack incoming webhook and e-mail over SMTP.

Configuration comes from a `get(name) -> str | None` function that the caller passes in (the CLI
reads environment variables, then `.streamlit/secrets.toml`; the page uses `ui.resources.config`):

    COSTDESK_WEBHOOK_URL         generic webhook (POST, JSON body)
    COSTDESK_SLACK_WEBHOOK_URL   Slack incoming webhook
    COSTDESK_SMTP_HOST, COSTDESK_SMTP_PORT (587), COSTDESK_SMTP_USER, COSTDESK_SMTP_PASSWORD,
    COSTDESK_SMTP_FROM, COSTDESK_ALERT_EMAIL_TO (comma-separated),
    COSTDESK_SMTP_TLS (starttls | ssl | none; default ssl on 465, else starttls)
    COSTDESK_NOTIFY_RETRIES (3), COSTDESK_NOTIFY_TIMEOUT_S (10), COSTDESK_NOTIFY_DEADLINE_S (30)

Channels are sent at the same time, each within its own deadline: one attempt never takes longer
than the timeout (however slowly a server answers) and all attempts of a channel, backoff
included, never longer than the deadline. Redirects are never followed. Without TLS nothing is
sent unless `COSTDESK_SMTP_TLS=none` says so. A failure is returned as a `Delivery` whose reason
never contains a URL path, a password or a server reply (URLs of webhooks are secrets).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import re
import smtplib
import socket
import ssl
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any
from urllib.parse import urlsplit

from core.alerts import KIND_LABELS, Alert
from integrations.settings import setting

log = logging.getLogger("costdesk.notify")

Getter = Callable[[str], str | None]
CHANNELS = ("webhook", "slack", "email")
TLS_MODES = ("starttls", "ssl", "none")
MAX_REPLY_BYTES = 64 * 1024
ABORT_GRACE_S = 1.0  # how long a cut attempt may take to notice before it is left behind
CONTROL_CHARS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
BODY_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")
HOST_CHARS = re.compile(r"[^A-Za-z0-9.:\-\[\]]")


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
    timeout_s: float = 10.0  # the most one attempt may take, start to end
    deadline_s: float = 30.0  # the most one channel may take, every attempt and wait included
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
    """How sending one message on one channel went (`warning`: sent, but not as safely as usual)."""

    channel: str
    ok: bool
    attempts: int
    error: str = ""
    warning: str = field(default="", compare=False)


class DeliveryRefused(Exception):
    """Costdesk declined to send; the message is safe to record as the reason."""


def env_or_secrets(name: str) -> str | None:
    """Environment variable, then `.streamlit/secrets.toml` (`integrations.settings`)."""
    return setting(name)


def _int(text: str | None, default: int) -> int:
    try:
        return int(str(text).strip()) if text not in (None, "") else default
    except ValueError:
        return default


def _seconds(text: str | None, default: float) -> float:
    """A positive number of seconds, else `default`."""
    try:
        value = float(str(text).strip()) if text not in (None, "") else default
    except ValueError:
        return default
    return value if value > 0 else default


def load_config(get: Getter = env_or_secrets) -> NotifyConfig:
    """Notification settings from `get` (see the module docstring for the names)."""
    port = _int(get("COSTDESK_SMTP_PORT"), 587)
    tls_default = "ssl" if port == 465 else "starttls"
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
        smtp_tls=tls if tls in TLS_MODES else tls_default,
        retries=max(0, _int(get("COSTDESK_NOTIFY_RETRIES"), 3)),
        timeout_s=_seconds(get("COSTDESK_NOTIFY_TIMEOUT_S"), 10.0),
        deadline_s=_seconds(get("COSTDESK_NOTIFY_DEADLINE_S"), 30.0),
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


def slack_escape(text: str) -> str:
    """Text safe in Slack markup: a name cannot become a link or an @channel mention."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_payload(alerts: list[Alert]) -> dict[str, Any]:
    """Slack incoming-webhook body: a plain `text` fallback plus one section block per alert."""
    lines = [
        f"*{KIND_LABELS.get(a.kind, a.kind)}* · {slack_escape(a.scope)}: {slack_escape(a.message)}"
        for a in alerts
    ]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _title(alerts)}}
    ]
    blocks += [{"type": "section", "text": {"type": "mrkdwn", "text": line}} for line in lines]
    return {"text": _title(alerts) + "\n" + "\n".join(lines), "blocks": blocks[:50]}


def header_text(text: str, limit: int = 200) -> str:
    """`text` fit for one mail header: line breaks and control characters become one space."""
    return " ".join(CONTROL_CHARS.sub(" ", text).split())[:limit]


def body_text(text: str) -> str:
    """`text` for a plain-text body: lines kept, other control characters replaced."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n")
    return BODY_CONTROL_CHARS.sub(" ", lines)


def email_message(alerts: list[Alert], config: NotifyConfig) -> EmailMessage:
    """A plain-text e-mail listing every alert; no alert text can add or break a header."""
    msg = EmailMessage()
    subject = _title(alerts) + (f" — {alerts[0].subject}" if len(alerts) == 1 else "")
    msg["Subject"] = header_text(subject)
    msg["From"] = header_text(config.smtp_from)
    msg["To"] = ", ".join(header_text(a) for a in config.email_to)
    body = [f"- {KIND_LABELS.get(a.kind, a.kind)} ({a.scope}): {a.message}" for a in alerts]
    text = "\n".join(body) + "\n\nOpen Costdesk > Budgets & alerts to acknowledge.\n"
    msg.set_content(body_text(text))
    return msg


# ---------------------------------------------------------------- cutting a hung attempt


def _shut(sock: Any) -> None:
    """Shut a socket down so that a read or write blocked on it in another thread returns."""
    if sock is None:
        return
    # The plain socket call: below TLS, whose state belongs to the blocked thread.
    with contextlib.suppress(OSError, TypeError, ValueError):
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


class Guard:
    """The sockets of one attempt, so that its deadline can cut them from another thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sockets: list[Callable[[], Any]] = []
        self.aborted = False
        self.delivered = False  # set once the server has taken the message

    def track(self, current: Callable[[], Any]) -> None:
        """Watch the socket that `current()` returns (it may change, e.g. after STARTTLS)."""
        with self._lock:
            self._sockets.append(current)
            aborted = self.aborted
        if aborted:
            _shut(current())

    def abort(self) -> None:
        """Cut every watched socket; later ones are cut as soon as they are tracked."""
        with self._lock:
            self.aborted = True
            watched = list(self._sockets)
        for current in watched:
            _shut(current())

    def http_class(self, base: type[http.client.HTTPConnection]) -> Callable[..., Any]:
        """A connection factory for urllib whose socket this guard watches from the start."""

        def make(host: str, **kwargs: Any) -> http.client.HTTPConnection:
            conn = base(host, **kwargs)
            self.track(lambda: conn.sock)
            return conn

        return make


# ---------------------------------------------------------------- senders


def _location_host(headers: Any) -> str:
    """The host a redirect points to (never its path or query, which may hold a token)."""
    location = (headers.get("Location") if headers is not None else None) or ""
    try:
        host = urlsplit(location.strip()).hostname if location else None
    except ValueError:
        return "an unreadable address"
    return HOST_CHARS.sub("", host or "")[:100] or "the same host"


def _reason(exc: BaseException) -> str:
    """A failure reason without secrets: an HTTP status or SMTP code and the exception type."""
    if isinstance(exc, DeliveryRefused):
        return str(exc)
    if isinstance(exc, urllib.error.HTTPError):
        if 300 <= exc.code < 400:
            return f"HTTP {exc.code} redirect to {_location_host(exc.headers)} (not followed)"
        return f"HTTP {exc.code}"
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"SMTP {exc.smtp_code}"
    if isinstance(exc, urllib.error.URLError):
        return f"connection failed ({type(exc.reason).__name__})"
    return type(exc).__name__


def _redact(reason: str, config: NotifyConfig) -> str:
    """`reason` with any configured secret removed, whatever produced it."""
    secrets = [config.smtp_password, config.webhook_url, config.slack_webhook_url]
    secrets += [urlsplit(u).path for u in (config.webhook_url, config.slack_webhook_url) if u]
    for secret in sorted((s for s in secrets if len(s) >= 4), key=len, reverse=True):
        reason = reason.replace(secret, "***")
    return reason


class _RefuseRedirects(urllib.request.HTTPRedirectHandler):
    """A redirected POST would be replayed elsewhere as a bodiless GET: make it an error."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        """Never follow."""
        return None


def _opener(guard: Guard) -> urllib.request.OpenerDirector:
    """urllib without redirects, with sockets the guard can cut (proxy settings still apply)."""

    class Http(urllib.request.HTTPHandler):
        def http_open(self, req: urllib.request.Request) -> Any:
            return self.do_open(guard.http_class(http.client.HTTPConnection), req)

    class Https(urllib.request.HTTPSHandler):
        def https_open(self, req: urllib.request.Request) -> Any:
            make = guard.http_class(http.client.HTTPSConnection)
            return self.do_open(make, req, context=ssl.create_default_context())

    return urllib.request.build_opener(_RefuseRedirects(), Http(), Https())


def post_json(
    url: str, payload: dict[str, Any], timeout_s: float, guard: Guard | None = None
) -> None:
    """POST `payload` as JSON; raises on a non-2xx answer (redirects included) or network error."""
    if urlsplit(url).scheme not in ("http", "https"):
        raise DeliveryRefused("not an http(s) URL")
    body = json.dumps(payload).encode()
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    guard = guard or Guard()
    try:
        with _opener(guard).open(request, timeout=timeout_s) as response:
            guard.delivered = True  # a 2xx status: what follows is only the reply's body
            response.read(MAX_REPLY_BYTES)
    except urllib.error.HTTPError as exc:
        exc.close()
        raise


def _smtp_class(base: type[smtplib.SMTP], guard: Guard) -> type[smtplib.SMTP]:
    """`base` whose socket the guard watches from before the server's greeting."""

    class Watched(base):  # type: ignore[misc, valid-type]
        def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
            sock = super()._get_socket(host, port, timeout)
            guard.track(lambda: self.sock or sock)
            return sock

    return Watched


def _smtp_connect(config: NotifyConfig, guard: Guard, timeout_s: float) -> smtplib.SMTP:
    """An open connection to the SMTP server (TLS from the start when `ssl`)."""
    if config.smtp_tls == "ssl":
        cls = _smtp_class(smtplib.SMTP_SSL, guard)
        ctx = ssl.create_default_context()
        return cls(config.smtp_host, config.smtp_port, timeout=timeout_s, context=ctx)
    cls = _smtp_class(smtplib.SMTP, guard)
    return cls(config.smtp_host, config.smtp_port, timeout=timeout_s)


def _secure(server: smtplib.SMTP, config: NotifyConfig) -> None:
    """Switch to TLS when `starttls`; refuse to go on in plain text unless TLS is off on purpose."""
    if config.smtp_tls != "starttls":
        return
    server.ehlo()
    if not server.has_extn("starttls"):
        raise DeliveryRefused(
            "refused: the SMTP server offers no STARTTLS, so nothing was sent "
            "(set COSTDESK_SMTP_TLS=none to send in plain text)"
        )
    server.starttls(context=ssl.create_default_context())


def _quit_quietly(server: smtplib.SMTP) -> None:
    """Say goodbye; a server that fails to answer QUIT has already taken the message."""
    try:
        server.quit()
    except (smtplib.SMTPException, OSError):
        server.close()


def send_email(
    message: EmailMessage,
    config: NotifyConfig,
    guard: Guard | None = None,
    timeout_s: float | None = None,
) -> None:
    """Send `message` to the configured recipients (only them, whatever its headers say)."""
    guard = guard or Guard()
    server = _smtp_connect(config, guard, timeout_s or config.timeout_s)
    try:
        _secure(server, config)
        if config.smtp_user:
            server.login(config.smtp_user, config.smtp_password)
        server.send_message(message, to_addrs=list(config.email_to))
        guard.delivered = True
    finally:
        _quit_quietly(server)


def tls_warning(config: NotifyConfig) -> str:
    """What to warn about when e-mail goes without TLS (empty when it does not)."""
    if config.smtp_tls != "none":
        return ""
    secret = "; the SMTP password is sent in plain text" if config.smtp_user else ""
    return f"e-mail sent without TLS (COSTDESK_SMTP_TLS=none){secret}"


# ---------------------------------------------------------------- attempts and deadlines

Send = Callable[[Guard, float], None]


def attempt(send: Send, timeout_s: float) -> str:
    """Run `send` once, cut off after `timeout_s` however slowly the server answers.

    Returns "" on success, else a reason. The send runs in a daemon thread so that even a call
    no socket timeout covers (a name lookup, a TLS handshake) cannot hold the caller.
    """
    guard = Guard()
    outcome: list[str] = []

    def run() -> None:
        try:
            send(guard, timeout_s)
            outcome.append("")
        except Exception as exc:
            outcome.append("" if guard.delivered else _reason(exc))

    worker = threading.Thread(target=run, name="costdesk-notify-attempt", daemon=True)
    worker.start()
    worker.join(timeout_s)
    if worker.is_alive():
        guard.abort()
        worker.join(ABORT_GRACE_S)
        if not guard.delivered and outcome != [""]:
            return f"no complete answer within {timeout_s:.3g} s"
        return ""
    return outcome[0] if outcome else "the send ended without an outcome"


def with_retries(
    channel: str, send: Send, config: NotifyConfig, sleep: Callable[[float], None]
) -> Delivery:
    """Call `send` until it succeeds, at most 1 + retries times, backoff × 2^n apart, in time."""
    deadline = time.monotonic() + config.deadline_s
    reason, tries = "", 0
    while tries <= config.retries:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        tries += 1
        reason = attempt(send, min(config.timeout_s, left))
        if not reason:
            return Delivery(channel, True, tries)
        wait = config.backoff_s * 2 ** (tries - 1)
        if tries > config.retries or time.monotonic() + wait >= deadline:
            break
        sleep(wait)
    return Delivery(channel, False, tries, _redact(reason or "deadline passed", config))


def channel_sender(
    channel: str,
    config: NotifyConfig,
    *,
    webhook: Callable[[], dict[str, Any]],
    slack: Callable[[], dict[str, Any]],
    email: Callable[[], EmailMessage],
) -> Send:
    """The send function of one channel, its message built now by that channel's builder
    (alerts and digests differ only in what they say)."""
    if channel == "webhook":
        payload = webhook()
        return lambda guard, t: post_json(config.webhook_url, payload, t, guard)
    if channel == "slack":
        payload = slack()
        return lambda guard, t: post_json(config.slack_webhook_url, payload, t, guard)
    message = email()
    return lambda guard, t: send_email(message, config, guard, t)


def _sender(channel: str, alerts: list[Alert], config: NotifyConfig) -> Send:
    """The send function of one channel for `alerts`."""
    return channel_sender(
        channel,
        config,
        webhook=lambda: webhook_payload(alerts),
        slack=lambda: slack_payload(alerts),
        email=lambda: email_message(alerts, config),
    )


def deliver_one(
    channel: str, alerts: list[Alert], config: NotifyConfig, sleep: Callable[[float], None]
) -> Delivery:
    """Send `alerts` as one message on `channel`; never raises."""
    try:
        delivery = with_retries(channel, _sender(channel, alerts, config), config, sleep)
    except Exception as exc:  # a message that cannot even be built is a failed delivery
        return Delivery(channel, False, 0, _redact(_reason(exc), config))
    warning = tls_warning(config) if channel == "email" and delivery.ok else ""
    if warning:
        log.warning("%s via %s:%s", warning, config.smtp_host, config.smtp_port)
    return Delivery(delivery.channel, delivery.ok, delivery.attempts, delivery.error, warning)


def deliver_each(
    batches: dict[str, list[Alert]],
    config: NotifyConfig,
    sleep: Callable[[float], None] = time.sleep,
) -> list[Delivery]:
    """Send each channel its own alerts, all channels at once, each within its deadline."""
    wanted = [c for c in config.channels if batches.get(c)]
    results: dict[str, Delivery] = {}

    def run(channel: str) -> None:
        results[channel] = deliver_one(channel, batches[channel], config, sleep)

    workers = [threading.Thread(target=run, args=(c,), daemon=True) for c in wanted]
    for worker in workers:
        worker.start()
    end = time.monotonic() + config.deadline_s + 2 * ABORT_GRACE_S
    for worker in workers:
        worker.join(max(0.0, end - time.monotonic()))
    late = f"no complete answer within {config.deadline_s:g} s"
    return [results.get(c) or Delivery(c, False, 1, late) for c in wanted]


def deliver(
    alerts: list[Alert],
    config: NotifyConfig,
    channels: tuple[str, ...] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> list[Delivery]:
    """Send `alerts` as one message on each configured channel (or only `channels`)."""
    wanted = [c for c in config.channels if channels is None or c in channels]
    return deliver_each({c: alerts for c in wanted}, config, sleep)
