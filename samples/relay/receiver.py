#!/usr/bin/env python3
"""A stand-in for the system the relay sample forwards to: verifies each request's Standard Webhooks signature
(with RELAY_SIGNING_SECRET), drops repeats by webhook-id, prints the entity and answers 204.

    RELAY_SIGNING_SECRET=whsec_... python3 samples/relay/receiver.py [port]    (default port 9000)
"""
import base64, hashlib, hmac, json, os, sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

secret = os.environ["RELAY_SIGNING_SECRET"]
key = base64.b64decode(secret.removeprefix("whsec_"))
seen = set()


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        msg_id, ts = self.headers.get("webhook-id", ""), self.headers.get("webhook-timestamp", "0")
        expected = base64.b64encode(hmac.new(key, f"{msg_id}.{ts}.".encode() + body, hashlib.sha256).digest()).decode()
        presented = [s[3:] for s in self.headers.get("webhook-signature", "").split() if s.startswith("v1,")]
        if not any(hmac.compare_digest(expected, p) for p in presented) or abs(time.time() - int(ts)) > 300:
            self.send_response(401)
        elif msg_id in seen:
            print(f"repeat of {msg_id} ignored", flush=True)
            self.send_response(204)
        else:
            seen.add(msg_id)
            data = json.loads(body)["data"]
            print(f"{msg_id}: flow {data['flow']} entity {data['entity']} attempt {data['attempt']} "
                  f"({len(data['events'])} event(s)): {json.dumps(data['latest']['payload'])}", flush=True)
            self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


port = int(sys.argv[1]) if len(sys.argv) > 1 else 9000
print(f"receiver on http://127.0.0.1:{port}/in", flush=True)
ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
