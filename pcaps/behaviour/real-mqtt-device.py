#!/usr/bin/env python3
"""An MQTT-over-TLS device on one connection (paho-mqtt 1.6.1, QoS 1 both ways), for a negative
capture of the behaviour watch: it publishes a reading of ~120 bytes every 5 s (the broker
answers each with PUBACK) and is subscribed to its command topic, on which commands arrive
unasked (it answers each with PUBACK); keepalive 15 s. With `events`, it publishes when
something happens instead of on a timer: at random, 5 s apart on average (a motion or door
sensor, a meter reporting changes), and keeps paho's default keepalive (60 s).

usage: real-mqtt-device.py PORT CAFILE SECONDS [timer|events]
"""
import json, random, ssl, sys, time
import paho.mqtt.client as mqtt

port, cafile, secs = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
events = sys.argv[4:] == ["events"]
c = mqtt.Client(client_id="dev-17", clean_session=False)
c.tls_set(ca_certs=cafile, tls_version=ssl.PROTOCOL_TLS_CLIENT)
c.tls_insecure_set(True)
c.on_connect = lambda cl, u, f, rc: cl.subscribe("cmd/dev-17", qos=1)
c.connect("127.0.0.1", port, keepalive=60 if events else 15)
c.loop_start()
rng = random.Random(9)
end = time.time() + secs
n = 0
while time.time() < end:
    n += 1
    c.publish("sensors/dev-17", json.dumps({"seq": n, "temp": round(20 + rng.random() * 3, 2),
              "rh": round(40 + rng.random() * 9, 1), "volt": 3.3, "ts": time.time()}), qos=1)
    time.sleep(rng.expovariate(1 / 5) if events else 5)
c.loop_stop()
c.disconnect()
