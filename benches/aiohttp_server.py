"""The article's broadcast server, rebuilt with aiohttp for `cargo bench` to compare against.

It speaks enough of wschaos's protocol for the delivery benchmark: a welcome and join/leave
events for every client, subscribe/unsubscribe, and publish, which is acknowledged and sent
to every subscriber of the topic, one `send_str` after another, as such servers do.

    python3 aiohttp_server.py PORT
"""

import json
import sys

from aiohttp import WSMsgType, web

clients = {}  # ws -> client id
topics = {}  # topic -> set of ws
seqs = {}  # topic -> last sequence number


async def broadcast(frame, skip=None):
    text = json.dumps(frame)
    for ws in list(clients):
        if ws is not skip and not ws.closed:
            await ws.send_str(text)


async def handle(request):
    ws = web.WebSocketResponse(heartbeat=10)
    await ws.prepare(request)
    me = request.query.get("client", "anonymous")
    clients[ws] = me
    await ws.send_json({"type": "welcome", "epoch": 1, "client": me, "online": len(clients)})
    await broadcast({"type": "joined", "client": me, "online": len(clients)}, skip=ws)
    try:
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            frame = json.loads(msg.data)
            kind, topic = frame.get("type"), frame.get("topic", "")
            if kind == "subscribe":
                topics.setdefault(topic, set()).add(ws)
                await ws.send_json({"type": "subscribed", "topic": topic, "epoch": 1,
                                    "seq": seqs.get(topic, 0)})
            elif kind == "unsubscribe":
                topics.get(topic, set()).discard(ws)
                await ws.send_json({"type": "unsubscribed", "topic": topic})
            elif kind == "publish":
                seqs[topic] = seqs.get(topic, 0) + 1
                await ws.send_json({"type": "ack", "id": frame["id"], "duplicate": False})
                text = json.dumps({"type": "message", "topic": topic, "seq": seqs[topic],
                                   "from": me, "id": frame["id"], "data": frame["data"]})
                for sub in list(topics.get(topic, ())):
                    if not sub.closed:
                        await sub.send_str(text)
    finally:
        del clients[ws]
        for subs in topics.values():
            subs.discard(ws)
        await broadcast({"type": "left", "client": me, "online": len(clients)})
    return ws


app = web.Application()
app.router.add_get("/", handle)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None)
