#!/usr/bin/env python3
"""Memory and disk of `eventmap serve` with a large backlog (docs/benchmarks.md).

Starts `eventmap serve` with its destination down, posts EVENTS orders (default 1M) from
four connections, reads the server's RSS and the spool's size; then starts the mock on the
destination's port, waits for the spool to drain, and reads both again.

    cargo build --release -p eventmap-cli -p eventmap-mock-capi
    python3 scripts/serve-backlog-rss.py [EVENTS [SERVE FLAGS...]]
"""
import base64, http.client, json, os, socket, subprocess, sys, tempfile, threading, time

EVENTS = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
BATCH = 1000
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "target", "release")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def du_mb(path):
    total = 0
    for entry in os.scandir(path):
        if entry.is_file():
            total += entry.stat().st_blocks * 512
    return total / 1e6


def metric(port, name):
    conn = http.client.HTTPConnection("127.0.0.1", port)
    conn.request("GET", "/metrics")
    for line in conn.getresponse().read().decode().splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0


def post_all(port, start, count, auth):
    conn = http.client.HTTPConnection("127.0.0.1", port)
    now = int(time.time() * 1000)
    for first in range(start, start + count, BATCH):
        batch = [{"type": "track", "event": "Order Completed", "messageId": f"m-{i}",
                  "timestamp": now, "properties": {"order_id": f"o-{i}", "currency": "USD",
                  "products": [{"product_id": "p-1", "price": 12.5, "quantity": 2}]},
                  "context": {"page": {"url": "https://shop.example/checkout"}}}
                 for i in range(first, min(first + BATCH, start + count))]
        conn.request("POST", "/v1/batch", json.dumps({"batch": batch}),
                     {"Authorization": auth, "Content-Type": "application/json"})
        answer = conn.getresponse()
        body = answer.read()
        if answer.status != 200:
            sys.exit(f"answer {answer.status}: {body[:200]}")


def main():
    spool = tempfile.mkdtemp(prefix="eventmap-rss-")
    listen, dest = free_port(), free_port()
    env = dict(os.environ, OPENAI_CAPI_KEY="test-key", OPENAI_PIXEL_ID="test-pixel")
    server = subprocess.Popen(
        [os.path.join(BIN, "eventmap"), "serve", "-m", "mappings/openai.yaml",
         "--spool", spool, "--listen", f"127.0.0.1:{listen}", "--write-key", "wk",
         "--endpoint", f"http://127.0.0.1:{dest}", *sys.argv[2:]],
        cwd=ROOT, env=env, stderr=subprocess.DEVNULL)
    time.sleep(1)
    auth = "Basic " + base64.b64encode(b"wk:").decode()
    started = time.time()
    per = EVENTS // 4
    threads = [threading.Thread(target=post_all, args=(listen, i * per, per, auth))
               for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    posted = time.time() - started
    time.sleep(2)
    depth = metric(listen, "eventmap_spool_depth")
    print(f"spooled {int(depth)} events in {posted:.1f} s; destination down: "
          f"RSS {rss_mb(server.pid):.1f} MB, spool {du_mb(spool):.1f} MB")
    mock = subprocess.Popen([os.path.join(BIN, "eventmap-mock-capi"), "--port", str(dest)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    started = time.time()
    while metric(listen, "eventmap_spool_depth") > 0:
        time.sleep(0.5)
    time.sleep(3)  # a tick or two for the settled segments to go
    print(f"drained in {time.time() - started:.1f} s: RSS {rss_mb(server.pid):.1f} MB, "
          f"spool {du_mb(spool):.1f} MB")
    server.terminate()
    server.wait()
    mock.terminate()


main()
