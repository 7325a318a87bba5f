"""``salon serve`` as an operator runs it, with JSON logs: ``/readyz`` turns ready once the managed Janus has a
session, ``/metrics`` shows Janus and the broadcast worker up and the live room, a request's id is in its log line,
and every line the server writes is one JSON object."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from salon.adapters.janus.config import config_folder
from tests.integration.test_serve_media import SECRET_KEY, free_port, seed
from tests.support.janus import killing_leftovers

TIMEOUT = 30.0


async def test_a_served_instance_is_ready_measured_and_logs_json(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    seeded = await seed(data_dir)
    port = free_port()
    env = {**os.environ, "SALON_SECRET_KEY": SECRET_KEY, "SALON_LOG_FORMAT": "json", "SALON_BROADCAST_WORKERS": "1"}
    env.pop("SALON_DATABASE_URL", None)
    argv = [str(Path(sys.executable).parent / "salon"), "serve", f"--port={port}", f"--data-dir={data_dir}"]
    log_path = tmp_path / "serve.log"
    base = f"http://127.0.0.1:{port}"
    with killing_leftovers(config_folder(data_dir)), log_path.open("wb") as log:
        proc = subprocess.Popen(argv, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=log)  # noqa: ASYNC220
        try:
            async with httpx.AsyncClient(base_url=base, trust_env=False) as http:
                async with asyncio.timeout(TIMEOUT):
                    while True:
                        assert proc.poll() is None, log_path.read_text()
                        try:
                            if (await http.get("/readyz")).status_code == 200:
                                break
                        except httpx.HTTPError:
                            pass
                        await asyncio.sleep(0.1)
                assert (await http.get("/healthz")).json() == {"status": "ok"}
                headers = {"Authorization": f"Bearer {seeded.token}", "X-Request-ID": "it-observe-1"}
                room = await http.get(f"/api/v1/rooms/{seeded.room_id}", headers=headers)
                assert room.status_code == 200, room.text
                assert room.headers["x-request-id"] == "it-observe-1"
                text = (await http.get("/metrics")).text
        finally:
            proc.terminate()
            proc.wait(20)

    found = {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    janus = [labels for name, labels in found if name == "salon_janus_up"]
    assert len(janus) == 1
    assert found["salon_janus_up", janus[0]] == 1
    assert found["salon_broadcast_up", frozenset({("node", "w0")})] == 1
    assert found["salon_rooms_live", frozenset()] == 1
    assert found["salon_janus_rooms", janus[0]] == 1, "the live room has its media in Janus"
    route = frozenset({("method", "GET"), ("route", "/api/v1/rooms/{room_id}"), ("status", "200")})
    assert found["salon_http_requests_total", route] == 1
    lines = [json.loads(line) for line in log_path.read_text().splitlines() if line.strip()]
    ours = [line for line in lines if line["request_id"] == "it-observe-1"]
    assert [line["logger"] for line in ours] == ["salon.access"]
    assert ours[0]["message"].startswith("GET /api/v1/rooms/{room_id} 200 ")
    assert any(line["logger"].startswith("uvicorn") for line in lines), "uvicorn's lines are JSON too"
