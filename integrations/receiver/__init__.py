"""The live receiver: OTLP/HTTP traces and log batches over HTTP, into the one ingest path.

app      routes, keys, writer slots (Starlette)
body     the body limit, reading within it, gzip and deflate
answers  OTLP responses and JSON reports, one verdict per ingest
server   Uvicorn: `run` for `python cli.py serve`, `running` for a server in a thread
"""
