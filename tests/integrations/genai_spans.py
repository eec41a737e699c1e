"""GenAI model-call spans made by the real OpenTelemetry SDK, and their OTLP encodings."""

from __future__ import annotations

from google.protobuf.json_format import MessageToJson
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter


def chat(
    model: str, response_id: str, input_tokens: int, output_tokens: int, cached: int = 0
) -> dict[str, object]:
    """A chat call's attributes (GenAI conventions: input includes the cached part)."""
    return {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": model,
        "gen_ai.response.model": model,
        "gen_ai.response.id": response_id,
        "gen_ai.usage.input_tokens": input_tokens,
        "gen_ai.usage.cache_read.input_tokens": cached,
        "gen_ai.usage.output_tokens": output_tokens,
        "gen_ai.input.messages": '[{"role": "user", "parts": [{"content": "hi"}]}]',
    }


def spans(*calls: dict[str, object], service: str | None = "checkout") -> list[ReadableSpan]:
    """One finished span per call (under an agent span, which is not a call), in order."""
    exporter = InMemorySpanExporter()
    resource = Resource.create({"service.name": service}) if service else Resource({})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("costdesk.test")
    with tracer.start_as_current_span("invoke_agent", attributes={"gen_ai.operation.name": "invoke_agent"}):  # fmt: skip
        for attrs in calls:
            with tracer.start_as_current_span(f"chat {attrs['gen_ai.request.model']}", attributes=attrs):  # fmt: skip
                pass
    provider.shutdown()
    return list(exporter.get_finished_spans())


def protobuf(finished: list[ReadableSpan]) -> bytes:
    """The spans as one ExportTraceServiceRequest, protobuf-encoded (as the exporter sends)."""
    return encode_spans(finished).SerializeToString()


def otlp_json(finished: list[ReadableSpan]) -> bytes:
    """The same request in OTLP/JSON (protobuf's JSON mapping)."""
    return MessageToJson(encode_spans(finished), indent=None).encode()
