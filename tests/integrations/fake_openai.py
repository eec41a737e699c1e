"""A local HTTP server on 127.0.0.1 that speaks the documented OpenAI shapes (FORMATS.md 1-7).

Scripted replies (`server.script(...)`) are served first, in order; otherwise each path has a
default reply built from the request. Every request received is kept in `server.requests`.
"""

from __future__ import annotations

import base64
import json
import struct
import threading
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlparse

USAGE = {
    "prompt_tokens": 1200,
    "completion_tokens": 300,
    "total_tokens": 1500,
    "prompt_tokens_details": {"cached_tokens": 1024, "audio_tokens": 0},
    "completion_tokens_details": {
        "reasoning_tokens": 0,
        "audio_tokens": 0,
        "accepted_prediction_tokens": 0,
        "rejected_prediction_tokens": 0,
    },
}
CHAT_MODEL = "gpt-4o-mini-2024-07-18"


@dataclass
class Reply:
    """One scripted HTTP reply."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    sse: list[str] | None = None  # data lines (without "data: ")
    cut_after: int | None = None  # close the connection after this many SSE events


@dataclass
class Seen:
    """A request as the server saw it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any


def chat_completion(usage: dict | None = USAGE, finish: str = "stop") -> dict:
    """A Chat Completions object (SPEC-25 shape)."""
    return {
        "id": "chatcmpl-B9MHDbslfkBeAs8l4bebGdFOJ6PeG",
        "object": "chat.completion",
        "created": 1741570283,
        "model": CHAT_MODEL,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "SECRET-ANSWER-TEXT", "refusal": None},
                "logprobs": None,
                "finish_reason": finish,
            }
        ],
        "usage": usage,
        "service_tier": "default",
        "system_fingerprint": "fp_50cad350e4",
    }


def chat_chunks(include_usage: bool) -> list[str]:
    """The SSE data lines of a streamed chat call (final usage chunk when asked)."""
    base = {
        "id": "chatcmpl-9xQ",
        "object": "chat.completion.chunk",
        "created": 1768563900,
        "model": CHAT_MODEL,
        "service_tier": "default",
        "system_fingerprint": "fp_0ba0d124f1",
        "usage": None,
    }
    words = ["SECRET-", "STREAMED-", "TEXT"]
    chunks = [
        {**base, "choices": [{"index": 0, "delta": {"content": w}, "finish_reason": None}]}
        for w in words
    ]
    chunks.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    if include_usage:
        usage = {**USAGE, "prompt_tokens": 412, "completion_tokens": 3, "total_tokens": 415}
        usage["prompt_tokens_details"] = {"cached_tokens": 0, "audio_tokens": 0}
        chunks.append({**base, "choices": [], "usage": usage})
    return [json.dumps(c) for c in chunks] + ["[DONE]"]


def response_object(status: str = "completed") -> dict:
    """A Responses API object (SPEC-25 shape)."""
    return {
        "id": "resp_67ccd2bed1ec8190b14f964abc0542670bb6a6b452d3795b",
        "object": "response",
        "created_at": 1741476542,
        "model": "o3-mini-2025-01-31",
        "status": status,
        "error": None,
        "incomplete_details": None if status == "completed" else {"reason": "max_output_tokens"},
        "output": [
            {
                "type": "message",
                "id": "msg_1",
                "status": "completed",
                "role": "assistant",
                "content": [{"type": "output_text", "text": "SECRET-RESPONSE", "annotations": []}],
            }
        ],
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "service_tier": "flex",
        "usage": {
            "input_tokens": 2000,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": 900,
            "output_tokens_details": {"reasoning_tokens": 640},
            "total_tokens": 2900,
        },
    }


def response_events() -> list[str]:
    """SSE data lines of a streamed Responses call."""
    created = {**response_object(), "status": "in_progress", "usage": None, "output": []}
    events = [
        {"type": "response.created", "sequence_number": 0, "response": created},
        {
            "type": "response.output_text.delta",
            "sequence_number": 1,
            "item_id": "msg_1",
            "output_index": 0,
            "content_index": 0,
            "delta": "SECRET-RESPONSE",
            "logprobs": [],
        },
        {"type": "response.completed", "sequence_number": 2, "response": response_object()},
    ]
    return [json.dumps(e) for e in events]


def embedding(body: dict) -> dict:
    """An embeddings list; base64 vectors when the client asks for them."""
    vector = [0.0023, -0.0093]
    if body.get("encoding_format") == "base64":
        data: Any = base64.b64encode(struct.pack("<2f", *vector)).decode()
    else:
        data = vector
    return {
        "object": "list",
        "data": [{"object": "embedding", "index": 0, "embedding": data}],
        "model": "text-embedding-3-small",
        "usage": {"prompt_tokens": 8, "total_tokens": 8},
    }


def error_body(message: str, kind: str, code: str | None) -> dict:
    """The documented error envelope."""
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


class FakeOpenAI:
    """The server: `start()` returns the base URL ending in /v1; `stop()` shuts it down."""

    def __init__(self) -> None:
        self.requests: list[Seen] = []
        self.replies: deque[Reply] = deque()
        self.pages: dict[str, list[dict]] = {}
        self.counter = 0
        self.lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None

    def script(self, *replies: Reply) -> None:
        """Serve these replies, in order, before the defaults."""
        self.replies.extend(replies)

    def start(self) -> str:
        """Listen on a free loopback port in a daemon thread."""
        owner = self

        class Handler(_Handler):
            server_owner = owner

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def stop(self) -> None:
        """Stop listening."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def next_request_id(self) -> str:
        """A fresh `x-request-id` value."""
        with self.lock:
            self.counter += 1
            return f"req_{self.counter:032x}"

    def default_reply(self, seen: Seen) -> Reply:
        """The reply a real API would give to this request, from the documented shapes."""
        body = seen.body if isinstance(seen.body, dict) else {}
        path = seen.path.removeprefix("/v1")
        if path == "/chat/completions":
            if body.get("stream"):
                usage = bool((body.get("stream_options") or {}).get("include_usage"))
                return Reply(sse=chat_chunks(usage))
            return Reply(body=chat_completion())
        if path == "/responses":
            return (
                Reply(sse=response_events())
                if body.get("stream")
                else Reply(body=response_object())
            )
        if path == "/embeddings":
            return Reply(body=embedding(body))
        if path in self.pages:
            return self.page_reply(path, seen)
        return Reply(status=404, body=error_body("not found", "invalid_request_error", None))

    def page_reply(self, path: str, seen: Seen) -> Reply:
        """Serve `self.pages[path]` one page at a time, following the `page` cursor."""
        pages = self.pages[path]
        cursor = seen.query.get("page", [None])[0]
        index = int(cursor.removeprefix("page_")) if cursor else 0
        has_more = index + 1 < len(pages)
        page = {
            "object": "page",
            "data": pages[index],
            "has_more": has_more,
            "next_page": f"page_{index + 1}" if has_more else None,
        }
        return Reply(body=page)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_owner: FakeOpenAI

    def log_message(self, *args: Any) -> None:  # quiet
        return

    def do_GET(self) -> None:
        self._serve(None)

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        self._serve(json.loads(raw) if raw else None)

    def _serve(self, body: Any) -> None:
        owner = self.server_owner
        url = urlparse(self.path)
        seen = Seen(self.command, url.path, parse_qs(url.query), dict(self.headers), body)
        with owner.lock:
            owner.requests.append(seen)
            scripted = owner.replies.popleft() if owner.replies else None
        reply = scripted or owner.default_reply(seen)
        headers = {"x-request-id": owner.next_request_id(), **reply.headers}
        if reply.sse is not None:
            self._send_sse(reply, headers)
        else:
            self._send_json(reply, headers)

    def _send_json(self, reply: Reply, headers: dict[str, str]) -> None:
        payload = json.dumps(reply.body if reply.body is not None else {}).encode()
        self.send_response(reply.status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def _send_sse(self, reply: Reply, headers: dict[str, str]) -> None:
        events = reply.sse or []
        full = "".join(f"data: {line}\n\n" for line in events).encode()
        sent = events if reply.cut_after is None else events[: reply.cut_after]
        payload = "".join(f"data: {line}\n\n" for line in sent).encode()
        self.send_response(reply.status)
        self.send_header("content-type", "text/event-stream")
        self.send_header("content-length", str(len(full)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)
        self.wfile.flush()
        if reply.cut_after is not None:
            self.close_connection = True
            self.connection.shutdown(2)


def epoch(day: date) -> int:
    """Unix seconds of a UTC midnight."""
    return int(datetime.combine(day, datetime.min.time(), tzinfo=UTC).timestamp())


def bucket(day: date, results: list[dict]) -> dict:
    """A daily Usage/Costs API bucket."""
    return {
        "object": "bucket",
        "start_time": epoch(day),
        "end_time": epoch(day + timedelta(days=1)),
        "results": results,
    }


def usage_result(
    model: str,
    requests: int,
    input_tokens: int,
    output_tokens: int,
    *,
    cached: int = 0,
    project: str = "proj_abc",
    service_tier: str | None = None,
    batch: bool | None = None,
) -> dict:
    """An `organization.usage.completions.result` grouped by model and project."""
    return {
        "object": "organization.usage.completions.result",
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "input_cached_tokens": cached,
        "input_uncached_tokens": input_tokens - cached,
        "input_audio_tokens": 0,
        "output_audio_tokens": 0,
        "num_model_requests": requests,
        "project_id": project,
        "user_id": None,
        "api_key_id": None,
        "model": model,
        "batch": batch,
        "service_tier": service_tier,
    }


def cost_result(line_item: str | None, value: float | str, project: str = "proj_abc") -> dict:
    """An `organization.costs.result` grouped by line item and project."""
    return {
        "object": "organization.costs.result",
        "amount": {"value": value, "currency": "usd"},
        "line_item": line_item,
        "project_id": project,
    }


def page(buckets: list[dict], next_page: str | None = None) -> dict:
    """One page of buckets."""
    return {
        "object": "page",
        "data": buckets,
        "has_more": next_page is not None,
        "next_page": next_page,
    }
