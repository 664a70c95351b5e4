#!/usr/bin/python3
"""Many concurrent TCP connections for scripts/netns-state-test.sh.

  tcp-many.py DST6 PORT MARKER TIMEOUT_S HOLD_S SRC6...
      Opens one TCP connection from each SRC6 (bound as the source address,
      kernel-chosen port) to [DST6]:PORT, all at the same time, sends
      "GET / HTTP/1.1" on each and reads until MARKER is in the answer.
      Prints one line per connection, "ok SRC6 LOCAL_PORT" or
      "fail SRC6 REASON", then "ready OK/TOTAL" once every connection has
      finished (within TIMEOUT_S in total). The connections that succeeded
      are then kept open (HTTP keep-alive) for HOLD_S seconds, so that their
      sessions can be inspected, and closed. Exit 0 only if all succeeded.
"""
import selectors
import socket
import sys
import time


def main(argv: list[str]) -> int:
    if len(argv) < 7:
        print(__doc__, file=sys.stderr)
        return 2
    dst, port, marker = argv[1], int(argv[2]), argv[3].encode()
    timeout, hold, sources = float(argv[4]), float(argv[5]), argv[6:]
    deadline = time.monotonic() + timeout
    sel = selectors.DefaultSelector()
    state: dict[socket.socket, dict] = {}
    results: dict[str, str] = {}
    request = f"GET / HTTP/1.1\r\nHost: [{dst}]\r\nUser-Agent: nat64d-state-test\r\n\r\n".encode()
    for src in sources:
        s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        s.setblocking(False)
        try:
            s.bind((src, 0))
            s.connect_ex((dst, port))
        except OSError as e:
            results[src] = f"fail {src} bind/connect: {e}"
            s.close()
            continue
        state[s] = {"src": src, "phase": "connect", "buf": b""}
        sel.register(s, selectors.EVENT_WRITE)
    open_ok: list[socket.socket] = []
    while state and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=max(0.0, min(0.5, deadline - time.monotonic()))):
            s = key.fileobj
            st = state[s]
            if st["phase"] == "connect":
                err = s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    results[st["src"]] = f"fail {st['src']} connect: errno {err}"
                    sel.unregister(s)
                    s.close()
                    del state[s]
                    continue
                s.sendall(request)
                st["phase"] = "read"
                sel.modify(s, selectors.EVENT_READ)
            else:
                try:
                    data = s.recv(65536)
                except OSError as e:
                    data, st["err"] = b"", str(e)
                if not data:
                    results[st["src"]] = f"fail {st['src']} closed before the page: {st.get('err', 'EOF')}"
                    sel.unregister(s)
                    s.close()
                    del state[s]
                    continue
                st["buf"] += data
                if marker in st["buf"]:
                    results[st["src"]] = f"ok {st['src']} {s.getsockname()[1]}"
                    sel.unregister(s)
                    open_ok.append(s)
                    del state[s]
    for s, st in state.items():
        results[st["src"]] = f"fail {st['src']} timeout in phase {st['phase']}"
        s.close()
    ok = 0
    for src in sources:
        line = results.get(src, f"fail {src} no result")
        ok += line.startswith("ok ")
        print(line, flush=True)
    print(f"ready {ok}/{len(sources)}", flush=True)
    time.sleep(hold)
    for s in open_ok:
        s.close()
    return 0 if ok == len(sources) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv))
