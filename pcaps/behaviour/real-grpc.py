#!/usr/bin/env python3
"""A gRPC server-streaming call over TLS, for negative captures of the behaviour watch: the
server pushes a small status message every 2-5 s on one long call; the client's HTTP/2 pings
every 10 s keep the connection. Two real implementations:

- grpcio (gRPC core, as most gRPC software): its client always offers ALPN `h2` and cannot be
  made to omit it;
- grpclib (pure Python on `h2`): given our own SSLContext it offers no ALPN at all, so the
  ClientHello is one the watch does look at.

Messages are protobuf's own `google.protobuf.StringValue` (no generated code needed).

usage: real-grpc.py server grpcio|grpclib PORT CERT KEY
       real-grpc.py client grpcio|grpclib PORT CAFILE SECONDS
"""
import asyncio, json, random, ssl, sys, time

from google.protobuf.wrappers_pb2 import StringValue

METHOD = "/status.Status/Watch"


def status(rng, n):
    return StringValue(value=json.dumps({
        "seq": n, "node": "db-%d" % rng.randint(1, 4), "state": rng.choice(["ok", "ok", "ok", "degraded"]),
        "load": round(rng.random() * 4, 2), "ts": time.time()}))


def pause(rng):
    return rng.uniform(2, 5)


# --- grpcio -------------------------------------------------------------------------------
def grpcio_server(port, cert, key):
    from concurrent import futures
    import grpc

    def watch(request, context):
        rng = random.Random(request.value)
        n = 0
        while context.is_active():
            n += 1
            yield status(rng, n)
            time.sleep(pause(rng))

    handler = grpc.method_handlers_generic_handler("status.Status", {
        "Watch": grpc.unary_stream_rpc_method_handler(
            watch, request_deserializer=StringValue.FromString,
            response_serializer=StringValue.SerializeToString)})
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4), options=[
        ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.http2.min_ping_interval_without_data_ms", 5000),
        ("grpc.http2.min_recv_ping_interval_without_data_ms", 5000)])
    server.add_generic_rpc_handlers((handler,))
    creds = grpc.ssl_server_credentials([(open(key, "rb").read(), open(cert, "rb").read())])
    server.add_secure_port("127.0.0.1:%d" % port, creds)
    server.start()
    server.wait_for_termination()


def grpcio_client(port, cafile, secs):
    import grpc
    creds = grpc.ssl_channel_credentials(root_certificates=open(cafile, "rb").read())
    ch = grpc.secure_channel("127.0.0.1:%d" % port, creds, options=[
        ("grpc.keepalive_time_ms", 10000), ("grpc.keepalive_permit_without_calls", 1),
        ("grpc.http2.max_pings_without_data", 0)])
    call = ch.unary_stream(METHOD, request_serializer=StringValue.SerializeToString,
                           response_deserializer=StringValue.FromString)
    end = time.time() + secs
    stream = call(StringValue(value="7"), timeout=secs)
    try:
        for _ in stream:
            if time.time() > end:
                break
    except grpc.RpcError as e:
        if e.code() != grpc.StatusCode.DEADLINE_EXCEEDED:
            raise
    stream.cancel()
    ch.close()


# --- grpclib ------------------------------------------------------------------------------
class GrpclibService:
    def __mapping__(self):
        from grpclib.const import Cardinality, Handler
        return {METHOD: Handler(self.watch, Cardinality.UNARY_STREAM, StringValue, StringValue)}

    async def watch(self, stream):
        request = await stream.recv_message()
        rng = random.Random(request.value)
        n = 0
        while True:
            n += 1
            await stream.send_message(status(rng, n))
            await asyncio.sleep(pause(rng))


async def grpclib_server(port, cert, key):
    from grpclib.server import Server
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    ctx.set_alpn_protocols(["h2"])  # the server would choose h2, but the client offers none
    server = Server([GrpclibService()])
    await server.start("127.0.0.1", port, ssl=ctx)
    await server.wait_closed()


async def grpclib_client(port, cafile, secs):
    from grpclib.client import Channel
    from grpclib.config import Configuration
    from grpclib.const import Cardinality
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(cafile)
    # No set_alpn_protocols: the ClientHello offers no ALPN (grpclib's default context offers h2).
    ch = Channel("127.0.0.1", port, ssl=ctx, config=Configuration(_keepalive_time=10.0, _keepalive_timeout=5.0))
    try:
        async with ch.request(METHOD, Cardinality.UNARY_STREAM, StringValue, StringValue,
                              timeout=secs) as stream:
            await stream.send_message(StringValue(value="7"), end=True)
            async for _ in stream:
                pass
    except asyncio.TimeoutError:
        pass
    except Exception as e:  # the deadline ends the call with DEADLINE_EXCEEDED
        if "DEADLINE_EXCEEDED" not in repr(e):
            raise
    finally:
        ch.close()


if __name__ == "__main__":
    role, impl = sys.argv[1], sys.argv[2]
    if role == "server" and impl == "grpcio":
        grpcio_server(int(sys.argv[3]), sys.argv[4], sys.argv[5])
    elif role == "client" and impl == "grpcio":
        grpcio_client(int(sys.argv[3]), sys.argv[4], float(sys.argv[5]))
    elif role == "server":
        asyncio.run(grpclib_server(int(sys.argv[3]), sys.argv[4], sys.argv[5]))
    else:
        asyncio.run(grpclib_client(int(sys.argv[3]), sys.argv[4], float(sys.argv[5])))
