#!/usr/bin/env python3
"""IMAP IDLE over TLS against a real dovecot, for a negative capture of the behaviour watch.

`idle`: a mail client (Python's imaplib, IDLE sent by hand as imaplib has no IDLE) logs in,
selects INBOX and idles; on each `* N EXISTS` it ends the IDLE (DONE), fetches the new
messages' headers the way Thunderbird does (UID FETCH ... BODY.PEEK[HEADER.FIELDS (...)]) and
idles again. `deliver`: a second long-lived connection APPENDs a message of 0.4-3 KB every
10-20 s, so the server pushes EXISTS to the idling client.

usage: real-imap.py idle|deliver PORT CAFILE SECONDS
"""
import imaplib, random, ssl, sys, time

HEADERS = b"(FROM TO CC BCC SUBJECT DATE MESSAGE-ID PRIORITY X-PRIORITY REFERENCES NEWSGROUPS IN-REPLY-TO CONTENT-TYPE REPLY-TO)"


def connect(port, cafile):
    ctx = ssl.create_default_context(cafile=cafile)
    ctx.check_hostname = False  # an address, no name: Python sends no SNI for it
    m = imaplib.IMAP4_SSL("127.0.0.1", port, ssl_context=ctx)
    m.login("alice", "secret")
    m.select("INBOX")
    return m


def idle(port, cafile, secs):
    m = connect(port, cafile)
    end = time.time() + secs
    n = 0
    seen = int(m.select("INBOX")[1][0])
    while time.time() < end:
        n += 1
        tag = b"I%d" % n
        m.send(tag + b" IDLE\r\n")
        while not m.readline().startswith(b"+"):
            pass
        while True:
            line = m.readline()
            if not line:
                return
            if line.rstrip().endswith(b"EXISTS"):
                count = int(line.split()[1])
                break
        m.send(b"DONE\r\n")
        while not m.readline().startswith(tag):
            pass
        if count > seen:
            m.uid("FETCH", "%d:*" % (seen + 1), "(UID RFC822.SIZE FLAGS BODY.PEEK[HEADER.FIELDS %s])" % HEADERS.decode())
            seen = count


def deliver(port, cafile, secs):
    m = connect(port, cafile)
    rng = random.Random(5)
    end = time.time() + secs
    i = 0
    while time.time() < end:
        time.sleep(rng.uniform(10, 20))
        i += 1
        body = "\r\n".join([
            "From: monitor%d@example.org" % rng.randint(1, 9), "To: alice@example.org",
            "Subject: report %d" % i, "Date: " + time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime()),
            "Message-ID: <%d.%d@example.org>" % (i, rng.getrandbits(32)), "", "x" * rng.randint(300, 2800), ""])
        m.append("INBOX", None, None, body.encode())
    m.logout()


if __name__ == "__main__":
    {"idle": idle, "deliver": deliver}[sys.argv[1]](int(sys.argv[2]), sys.argv[3], float(sys.argv[4]))
