#!/usr/bin/env python3
"""HTTP clients for the metrics endpoint's tests, polite and hostile.

  metrics_client.py get PORT PATH [ACCEPT] [METHOD]
      one request; prints the status line, then the body
  metrics_client.py openmetrics PORT
      parses the OpenMetrics answer with prometheus_client's reference
      parser (strict), prints "families N" or fails
  metrics_client.py hostile PORT IDLE
      the attacks of issue 19, one after the other, each printed as
      "NAME: RESULT" (a status line, or "closed"): a 1 MB request line,
      headers without end, IDLE idle connections, slowloris, a POST, a
      path of /../metrics; then a scrape that must still answer 200
  metrics_client.py blind PORT SLOTS PROBES
      SLOTS partial requests from one address, reopened as they close,
      while PROBES scrapes are made; prints "probes: N/PROBES 200"
"""
import socket
import sys
import time

HOST = "127.0.0.1"


def status_of(sock, wait=15.0):
    """The status line the server sends, or "closed" when it closes first."""
    sock.settimeout(wait)
    data = b""
    try:
        while b"\r\n" not in data:
            chunk = sock.recv(4096)
            if not chunk:
                break
            data += chunk
    except (ConnectionResetError, BrokenPipeError):
        pass
    except socket.timeout:
        return "no answer within %.0f s" % wait
    line = data.split(b"\r\n")[0].decode("latin-1")
    return line if line else "closed"


def send_all(sock, data):
    try:
        sock.sendall(data)
    except (ConnectionResetError, BrokenPipeError):
        pass


def request(port, path="/metrics", accept=None, method="GET"):
    s = socket.create_connection((HOST, port))
    head = "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n" % (method, path, HOST)
    if accept:
        head += "Accept: %s\r\n" % accept
    send_all(s, (head + "\r\n").encode())
    s.settimeout(15)
    data = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    return head.split(b"\r\n")[0].decode(), head.decode(), body.decode()


def hostile(port, idle):
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    out = []
    # A request line of 1 MB.
    s = socket.create_connection((HOST, port))
    send_all(s, b"GET /" + b"a" * (1 << 20) + b" HTTP/1.1\r\n\r\n")
    out.append(("long_line", status_of(s)))
    s.close()
    # Headers without end.
    s = socket.create_connection((HOST, port))
    send_all(s, b"GET /metrics HTTP/1.1\r\n")
    for _ in range(20000):
        send_all(s, b"X-Endless: yes\r\n")
    out.append(("endless_headers", status_of(s)))
    s.close()
    # Many idle connections, then a scrape among them.
    held = []
    for _ in range(idle):
        try:
            held.append(socket.create_connection((HOST, port)))
        except OSError as e:
            out.append(("idle_connect", "error %s" % e))
            break
    status, _, _ = request(port)
    out.append(("scrape_among_idle", status))
    for c in held:
        c.close()
    # Slowloris: a byte a while, never the end of the headers.
    s = socket.create_connection((HOST, port))
    send_all(s, b"GET /metrics HTTP/1.1\r\n")
    s.setblocking(False)
    verdict = None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and verdict is None:
        try:
            s.send(b"X")
        except (BlockingIOError, OSError):
            pass
        try:
            data = s.recv(4096)
            verdict = data.split(b"\r\n")[0].decode() if data else "closed"
        except BlockingIOError:
            time.sleep(0.2)
        except OSError:
            verdict = "closed"
    out.append(("slowloris", verdict or "still open after 30 s"))
    s.close()
    # A POST with a body.
    s = socket.create_connection((HOST, port))
    send_all(s, b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")
    out.append(("post", status_of(s)))
    s.close()
    # A path that climbs.
    status, _, _ = request(port, "/../metrics")
    out.append(("dotdot", status))
    status, _, _ = request(port)
    out.append(("after", status))
    for name, result in out:
        print("%s: %s" % (name, result))


def blind(port, slots, probes):
    """Issue 25's attack: SLOTS connections from one address, one byte sent
    on each, each reopened at once when the server closes it; meanwhile
    PROBES scrapes, one every 0.3 s. Prints "probes: N/PROBES 200" and the
    statuses seen, and how many connections the attacker reopened."""
    import select

    def opened():
        s = socket.create_connection((HOST, port))
        send_all(s, b"G")
        return s

    held = [opened() for _ in range(slots)]
    reopened = 0
    statuses = []
    next_probe = time.monotonic() + 0.5
    while len(statuses) < probes:
        ready, _, _ = select.select(held, [], [], 0.05)
        for s in ready:
            try:
                data = s.recv(4096)
            except OSError:
                data = b""
            if not data:
                held.remove(s)
                s.close()
                held.append(opened())
                reopened += 1
        if time.monotonic() >= next_probe:
            try:
                status, _, _ = request(port)
            except OSError as e:
                status = "error %s" % e
            statuses.append(status)
            next_probe = time.monotonic() + 0.3
    ok = sum(1 for s in statuses if s == "HTTP/1.1 200 OK")
    print("probes: %d/%d 200" % (ok, probes))
    print("statuses: %s" % sorted(set(statuses)))
    print("reopened: %d" % reopened)
    for s in held:
        s.close()


def main():
    cmd, port = sys.argv[1], int(sys.argv[2])
    if cmd == "get":
        path = sys.argv[3]
        accept = sys.argv[4] if len(sys.argv) > 4 and sys.argv[4] else None
        method = sys.argv[5] if len(sys.argv) > 5 else "GET"
        status, head, body = request(port, path, accept, method)
        print(head)
        print()
        print(body, end="")
    elif cmd == "openmetrics":
        from prometheus_client.openmetrics.parser import text_string_to_metric_families

        status, head, body = request(port, accept="application/openmetrics-text; version=1.0.0")
        if "application/openmetrics-text" not in head:
            sys.exit("not OpenMetrics: " + head)
        families = list(text_string_to_metric_families(body))
        print("families %d" % len(families))
    elif cmd == "hostile":
        hostile(port, int(sys.argv[3]))
    elif cmd == "blind":
        blind(port, int(sys.argv[3]), int(sys.argv[4]))


if __name__ == "__main__":
    main()
