"""`cli.py ingest`, `reprice`, `uploads` as a user runs them: real processes, real files."""

import json
import subprocess
import sys
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent
GOOD = {"timestamp": "2025-06-01T10:00:00Z", "request_id": "a1", "model": "gpt-4o-mini",
        "input_tokens": 1000, "output_tokens": 200, "latency_ms": 800, "status": 200}  # fmt: skip


def run(*args: str, db: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "cli.py", *args, "--db", db],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def write(path: Path, *records: dict) -> Path:
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in records))
    return path


def test_ingest_json_report_and_exit_codes(tmp_path: Path, sqlite_url: str) -> None:
    clean = write(tmp_path / "clean.jsonl", GOOD)
    result = run("ingest", str(clean), "--json", db=sqlite_url)
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    # 1000 x 0.15 + 200 x 0.60 per 1M tokens = 0.00027
    assert payload["cost_usd"] == "0.00027" and payload["accepted"] == 1
    assert {"accepted", "duplicates", "conflicts", "rejected", "errors", "scrubbed", "cost_usd",
            "unpriced_models"} <= set(payload)  # fmt: skip

    dirty = write(tmp_path / "dirty.jsonl", {**GOOD, "request_id": "a2", "input_tokens": 80.5},
                  {**GOOD, "request_id": "a3", "model": "house-llm"})  # fmt: skip
    result = run("ingest", str(clean), str(dirty), "--json", db=sqlite_url)
    assert result.returncode == 1
    payload = json.loads(result.stdout)
    assert (payload["accepted"], payload["duplicates"], payload["rejected"]) == (1, 1, 1)
    assert payload["errors"] == [
        {"file": "dirty.jsonl", "line": 1, "field": "input_tokens",
         "reason": "must be a non-negative whole number (got 80.5)"}
    ]  # fmt: skip
    assert payload["unpriced_models"] == ["house-llm"]


def test_unusable_input_exits_2_with_one_line(tmp_path: Path, sqlite_url: str) -> None:
    missing = run("ingest", str(tmp_path / "nope.jsonl"), db=sqlite_url)
    assert missing.returncode == 2 and "no such file" in missing.stderr
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    result = run("ingest", str(empty), db=sqlite_url)
    assert result.returncode == 2 and "empty" in result.stderr
    bad_format = run("ingest", str(empty), "--format", "xml", db=sqlite_url)
    assert bad_format.returncode == 2 and bad_format.stderr.count("\n") == 1


def test_csv_map_uploads_and_reprice(tmp_path: Path, sqlite_url: str) -> None:
    csv_file = tmp_path / "export.csv"
    csv_file.write_text("when,id,llm,in,out\n2025-06-01T00:00:00Z,c1,gpt-4o,1000,100\n")
    spec = "timestamp=when,request_id=id,model=llm,input_tokens=in,output_tokens=out"
    result = run(
        "ingest", str(csv_file), "--map", spec, "--project", "etl", "--json", db=sqlite_url
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # 1000 x 2.50 + 100 x 10.00 per 1M = 0.0025 + 0.001 = 0.0035
    assert json.loads(result.stdout)["cost_usd"] == "0.0035"
    listed = json.loads(run("uploads", "list", "--json", db=sqlite_url).stdout)["uploads"]
    assert [(u["file_name"], u["source"], u["accepted"]) for u in listed] == [
        ("export.csv", "csv:etl", 1)
    ]
    repriced = json.loads(run("reprice", "--json", db=sqlite_url).stdout)
    assert repriced["rows"] == 1 and repriced["change_usd"] == "0.00"
    deleted = run("uploads", "delete", str(listed[0]["id"]), db=sqlite_url)
    assert deleted.returncode == 0 and "1 requests" in deleted.stdout
    assert run("uploads", "delete", "99", db=sqlite_url).returncode == 2


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(c) for c in text.split()]


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_a_killed_ingest_leaves_no_parsing_process_behind(tmp_path: Path, sqlite_url: str) -> None:
    import os
    import signal
    import time

    line = orjson.dumps({**GOOD, "messages": "x" * 300}) + b"\n"
    big = tmp_path / "big.jsonl"
    with big.open("wb") as out:  # over 16 MB: parsed in a second process
        for i in range(50_000):
            out.write(line.replace(b'"a1"', f'"k{i}"'.encode()))
    proc = subprocess.Popen(
        [sys.executable, "cli.py", "ingest", str(big), "--db", sqlite_url], cwd=ROOT,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    workers: list[int] = []
    while not workers and time.monotonic() < deadline and proc.poll() is None:
        workers = _children(proc.pid)
        time.sleep(0.05)
    assert workers, "the parsing process never started"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    deadline = time.monotonic() + 10
    while any(map(_alive, workers)) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(map(_alive, workers))
    rerun = run("ingest", str(big), "--json", db=sqlite_url)
    payload = json.loads(rerun.stdout)
    assert payload["accepted"] + payload["duplicates"] == 50_000 and payload["rejected"] == 0
