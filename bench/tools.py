#!/usr/bin/env python3
"""Helpers of bench/run (standard library only).

  tools.py size SIZE                      150k -> "150000 150 ils_bench_150k"
  tools.py free-port                      a free TCP port on 127.0.0.1
  tools.py login URL EMAIL PASSWORD       the access token of a logIn over GraphQL
  tools.py gql URL TOKEN QUERY            runs one query; prints its data as JSON
  tools.py lua FILE TOKEN QUERY           a wrk script POSTing QUERY (TOKEN may be "-")
  tools.py check URL LUA_BODY_FILE TOKEN PATH N
                                          runs the query once, fails on errors, and checks
                                          that the list at PATH (dotted) has N items
  tools.py table RESULTS_DIR              the summary table of a run (also table.txt)
  tools.py waits URL TOKEN [BEFORE_FILE]  the server's ils_rate_limit_wait_seconds buckets
                                          (cumulative counts, as JSON); with BEFORE_FILE
                                          (an earlier output), what the requests since then
                                          waited: their count, the share at most 0.05 and
                                          0.2 ms, and the bucket that holds their p99
"""
import hashlib
import json
import os
import re
import socket
import statistics
import sys
import urllib.request


def size(text):
    m = re.fullmatch(r"([0-9]+(?:\.[0-9]+)?)([kKmM]?)", text)
    if not m:
        sys.exit(f"bench: size {text!r}: a number with k or M, such as 150k or 1.5M")
    orders = round(float(m.group(1)) * {"": 1, "k": 1e3, "K": 1e3, "m": 1e6, "M": 1e6}[m.group(2)])
    if orders < 1000 or orders % 1000:
        sys.exit(f"bench: size {text!r}: a whole number of thousands (1,000 orders per practice)")
    practices = orders // 1000
    print(orders, practices, f"ils_bench_{practices}k")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    print(s.getsockname()[1])
    s.close()


def post(url, query, variables=None, token=None):
    return post_body(url, {"query": query, "variables": variables or {}}, token)


def post_body(url, body, token=None):
    """POSTs a GraphQL request object (text or `documentId`); its data, or exits."""
    req = urllib.request.Request(url, data=json.dumps(body).encode(),
                                 headers={"content-type": "application/json"})
    if token and token != "-":
        req.add_header("authorization", "Bearer " + token)
    with urllib.request.urlopen(req, timeout=60) as r:
        out = json.load(r)
    if out.get("errors"):
        what = body.get("query") or body.get("documentId") or "?"
        sys.exit(f"bench: {what[:80]}…: {json.dumps(out['errors'])[:500]}")
    return out["data"]


def login(url, email, password):
    data = post(url, "mutation($i: LogInInput!) { logIn(input: $i) { accessToken } }",
                {"i": {"email": email, "password": password}})
    print(data["logIn"]["accessToken"])


def gql(url, token, query):
    print(json.dumps(post(url, query, token=token)))


def lua(path, token, query, form="text"):
    """A wrk script POSTing `query` as text, or (form `id`) as its persisted document's ID."""
    lines = ['wrk.method = "POST"', 'wrk.headers["Content-Type"] = "application/json"']
    if token != "-":
        lines.append(f'wrk.headers["Authorization"] = "Bearer {token}"')
    body = {"query": query}
    if form == "id":
        body = {"documentId": "sha256:" + hashlib.sha256(query.encode()).hexdigest()}
    # The body is JSON, written as a Lua string literal (JSON's escapes are Lua's too).
    lines.append("wrk.body = " + json.dumps(json.dumps(body)))
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def check(url, lua_path, token, path, n):
    text = open(lua_path).read()
    body = json.loads(json.loads(re.search(r"^wrk\.body\s*=\s*(.*)$", text, re.M).group(1)))
    data = post_body(url, body, token=token)
    node = data
    for part in path.split("."):
        node = node[part]
    have = len(node) if isinstance(node, list) else (1 if node else 0)
    if have != int(n):
        sys.exit(f"bench: {url}: {path} has {have} items, {n} expected")
    print(f"checked {url}: {path} has {have}")


# --- the table ---------------------------------------------------------------------------

UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def ms(text):
    m = re.fullmatch(r"([0-9.]+)(us|ms|s|m)", text)
    return float(m.group(1)) * UNITS[m.group(2)] if m else float("nan")


def wrk(path):
    """Requests/sec, p50 and p99 in ms, and errors (non-2xx, socket errors) of one wrk run."""
    if not os.path.exists(path):
        return None
    text = open(path).read()
    rps = re.search(r"Requests/sec:\s+([0-9.]+)", text)
    p50 = re.search(r"^\s+50%\s+(\S+)", text, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", text, re.M)
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", text)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    errors = (int(non2xx.group(1)) if non2xx else 0) + (sum(map(int, sock.groups())) if sock else 0)
    return {
        "rps": float(rps.group(1)) if rps else float("nan"),
        "p50": ms(p50.group(1)) if p50 else float("nan"),
        "p99": ms(p99.group(1)) if p99 else float("nan"),
        "errors": errors,
    }


def cpu_per_request(results, name):
    """The ILS server's CPU time per request over one wrk run, in microseconds."""
    cpu, txt = os.path.join(results, f"{name}.cpu"), os.path.join(results, f"{name}.txt")
    if not (os.path.exists(cpu) and os.path.exists(txt)):
        return None
    ticks, hz = map(int, open(cpu).read().split())
    m = re.search(r"(\d+) requests in", open(txt).read())
    if not m or int(m.group(1)) == 0:
        return None
    return ticks / hz * 1e6 / int(m.group(1))


def fmt_rps(values):
    if not values:
        return "-"
    lo, hi = min(values), max(values)
    return f"{lo:,.0f}" if round(lo) == round(hi) else f"{lo:,.0f}–{hi:,.0f}"


def fmt_ms(values):
    if not values:
        return "-"
    v = statistics.median(values)
    return f"{v:.2f} ms" if v < 10 else f"{v:.1f} ms" if v < 100 else f"{v:.0f} ms"


def spread(values, fmt="{:.1f}"):
    """median (min–max) of a list of numbers (bench/assistant.py's tables use it too)."""
    if not values:
        return "-"
    mid = fmt.format(statistics.median(values))
    if len(values) == 1:
        return mid
    return f"{mid} ({fmt.format(min(values))}–{fmt.format(max(values))})"


def fmt_ratio(values):
    return spread(values, "{:.2f}")


def fields(path):
    """KEY=VALUE pairs of the line starting with a tag (FANOUT, IDLE) in a tool's output."""
    if not os.path.exists(path):
        return None
    for line in open(path):
        if line.startswith(("FANOUT ", "IDLE ")):
            return dict(p.split("=", 1) for p in line.split()[1:])
    return None


def table(results):
    meta = json.load(open(os.path.join(results, "run.json")))
    rounds, sizes = int(meta["rounds"]), meta["sizes"]
    base = sizes[0]
    rows = []
    errors = []

    def runs(name):
        out = []
        for r in range(1, rounds + 1):
            w = wrk(os.path.join(results, f"r{r}-{name}.txt"))
            if w:
                out.append(w)
                if w["errors"]:
                    errors.append(f"r{r}-{name}: {w['errors']} non-2xx responses or socket errors")
        return out

    def row(label, ils_name, peer_name):
        ils = runs(ils_name)
        peer = runs(peer_name) if peer_name else []
        by_round = {}
        for r in range(1, rounds + 1):
            i = wrk(os.path.join(results, f"r{r}-{ils_name}.txt"))
            p = wrk(os.path.join(results, f"r{r}-{peer_name}.txt")) if peer_name else None
            if i and p and p["rps"] > 0:
                by_round[r] = i["rps"] / p["rps"]
        rows.append([
            label,
            fmt_rps([w["rps"] for w in ils]), fmt_ms([w["p50"] for w in ils]), fmt_ms([w["p99"] for w in ils]),
            fmt_rps([w["rps"] for w in peer]), fmt_ms([w["p50"] for w in peer]), fmt_ms([w["p99"] for w in peer]),
            fmt_ratio(list(by_round.values())),
        ])
        return ils

    base_page = row(f"page of 50, {base['label']} orders", "ils-page", "peer-page")
    row("  the same page by ID (persisted)", "ils-page-id", "peer-page")
    row("one row: me { company }", "ils-me", "peer-one")
    row("  the same me by ID (persisted)", "ils-me-id", "peer-one")
    row("one row: node(id) Company", "ils-node", "peer-one")
    flat = []
    for s in sizes[1:]:
        other = row(f"page of 50, {s['label']} orders", f"ils-page-{s['db']}", None)
        # Against the first size's runs made beside these (older results: the rounds').
        beside = runs(f"ils-page-base-{s['db']}") or base_page
        if beside and other:
            flat.append((s["label"], statistics.median([w["p50"] for w in other])
                         / statistics.median([w["p50"] for w in beside])))

    head = ["scenario", "ILS req/s", "p50", "p99", "peer req/s", "p50", "p99", "ILS/peer"]
    widths = [max(len(str(r[i])) for r in rows + [head]) for i in range(len(head))]
    line = lambda r: "  ".join(str(c).ljust(widths[i]) if i == 0 else str(c).rjust(widths[i])
                               for i, c in enumerate(r))
    out = [
        f"ILS {meta['ils_commit']} vs PostGraphile 4.14.1: {rounds} round(s) interleaved, "
        f"wrk -t1 -c{meta['conns']} -d{meta['duration']}, {meta['cores']} cores, {meta['started']}",
        "req/s: min–max over rounds; p50, p99: median over rounds; ILS/peer: req/s ratio of "
        "each round, median (min–max)",
        "",
        line(head),
        line(["-" * w for w in widths]),
    ]
    out += [line(r) for r in rows]
    out.append("")
    pg = os.path.join(results, "pgbench.txt")
    if os.path.exists(pg):
        m = re.search(r"tps = ([0-9.]+)", open(pg).read())
        out.append(f"pgbench -S (8 clients, prepared, {meta['duration']}): "
                   + (f"{float(m.group(1)):,.0f} TPS" if m else "no figure (see pgbench.txt)"))
    # me's statements replayed in PostgreSQL alone (bench/run's replay): the walled read's
    # ceiling in the database, whatever the server does.
    def tps(name, r):
        """A replay's tx/s, or None (noted under errors) when pgbench failed or aborted."""
        path = os.path.join(results, f"r{r}-{name}.txt")
        if not os.path.exists(path):
            return None
        text = open(path).read()
        m = re.search(r"tps = ([0-9.]+) \((?:without|excluding)", text)
        failed = re.search(r"number of failed transactions: ([1-9]\d*)", text)
        status = re.search(r"exit status (\d+)", text)
        if not m or failed or "aborted" in text or (status and status.group(1) != "0"):
            errors.append(f"r{r}-{name}: pgbench failed or aborted (see r{r}-{name}.txt)")
            return None
        return float(m.group(1)) or None

    def all_tps(name):
        return [t for r in range(1, rounds + 1) if (t := tps(name, r))]

    if any(os.path.exists(os.path.join(results, f"r{r}-db-walled.txt")) for r in range(1, rounds + 1)):
        out.append("me's statements replayed with pgbench (simple protocol, no TLS, 10 clients; tx/s, "
                   "min–max over rounds): as ILS sends them " + fmt_rps(all_tps("db-walled"))
                   + ", the same in one message " + fmt_rps(all_tps("db-one"))
                   + ", the join alone without walls " + fmt_rps(all_tps("db-bare")))
        ils_share, peer_share = [], []
        for r in range(1, rounds + 1):
            walled = tps("db-walled", r)
            i = wrk(os.path.join(results, f"r{r}-ils-me.txt"))
            p = wrk(os.path.join(results, f"r{r}-peer-one.txt"))
            if walled and i and i["rps"] > 0:
                ils_share.append(i["rps"] / walled)
            if walled and p and p["rps"] > 0:
                peer_share.append(p["rps"] / walled)
        out.append("  req/s over the walled replay's tx/s, each round: ILS's me "
                   + fmt_ratio(ils_share)
                   + (", the peer's one row " + fmt_ratio(peer_share) if peer_share else ""))
    for label, text_name, id_name in [("page", "ils-page", "ils-page-id"), ("me", "ils-me", "ils-me-id")]:
        ratios = []
        for r in range(1, rounds + 1):
            t = wrk(os.path.join(results, f"r{r}-{text_name}.txt"))
            i = wrk(os.path.join(results, f"r{r}-{id_name}.txt"))
            if t and i and t["rps"] > 0:
                ratios.append(i["rps"] / t["rps"])
        if ratios:
            out.append(f"{label} by ID / as text (req/s, each round): {fmt_ratio(ratios)}")
        cpu_t = [c for r in range(1, rounds + 1) if (c := cpu_per_request(results, f"r{r}-{text_name}"))]
        cpu_i = [c for r in range(1, rounds + 1) if (c := cpu_per_request(results, f"r{r}-{id_name}"))]
        if cpu_t and cpu_i:
            out.append(f"{label}: ILS server CPU per request, as text {statistics.median(cpu_t):.0f} µs, "
                       f"by ID {statistics.median(cpu_i):.0f} µs (median of rounds; "
                       f"{min(cpu_t):.0f}–{max(cpu_t):.0f} / {min(cpu_i):.0f}–{max(cpu_i):.0f})")
    for label, ratio in flat:
        out.append(f"page p50 at {label} / at {base['label']} orders: {ratio:.2f}")
    f = fields(os.path.join(results, "fanout.txt"))
    if f:
        out.append(
            f"fan-out: {f['sockets']} sockets x {f['events']} orderUpdated events "
            f"(after {f.get('warmup', '0')} warm-up event(s), not counted): p50 {f['p50_ms']} ms, "
            f"p99 {f['p99_ms']} ms, max {f['max_ms']} ms over {f['deliveries']} deliveries; "
            f"missed {f['missed']} (moveOrder p50 {f['mutation_p50_ms']} ms)")
    elif os.path.exists(os.path.join(results, "fanout.txt")):
        out.append("fan-out: failed (see fanout.txt)")
    f = fields(os.path.join(results, "idle.txt"))
    if f:
        grown = (int(f["rss_after_kb"]) - int(f["rss_before_kb"])) / 1024
        out.append(
            f"idle sockets: {f['open']} open (of {f['sockets']}; {f['failed']} failed): server RSS "
            f"{int(f['rss_before_kb']) / 1024:,.0f} -> {int(f['rss_after_kb']) / 1024:,.0f} MB "
            f"(+{grown:,.0f} MB), {f['kb_per_socket']} KB per socket")
    elif os.path.exists(os.path.join(results, "idle.txt")):
        out.append("idle sockets: failed (see idle.txt)")
    for s in sizes:
        seeded = s.get("seeded")
        if seeded:
            out.append(f"seed {s['db']}: {seeded}")
    if errors:
        out.append("")
        out += ["ERRORS: " + e for e in errors]
    text = "\n".join(out)
    print(text)
    with open(os.path.join(results, "table.txt"), "w") as f:
        f.write(text + "\n")


def waits(url, token, before_file=None):
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})
    text = urllib.request.urlopen(req, timeout=10).read().decode()
    now = {}  # summed over the label `drew` (first / beside)
    for m in re.finditer(r'^ils_rate_limit_wait_seconds_bucket\{(?:[^}]*,)?le="([^"]+)"\} ([0-9.e+]+)$', text, re.M):
        now[m.group(1)] = now.get(m.group(1), 0) + float(m.group(2))
    if not now:
        sys.exit("bench: /metrics has no ils_rate_limit_wait_seconds (limits off, or no request yet)")
    # Draws answered at once from what the process last heard of the budgets, and those
    # of them that Redis then refused (absent until the first one).
    for name in ("early", "overruns"):
        m = re.search(rf'^ils_rate_limit_{name}_total(?:\{{[^}}]*\}})? ([0-9.e+]+)$', text, re.M)
        now[name] = float(m.group(1)) if m else 0.0
    if before_file is None:
        print(json.dumps(now))
        return
    before = json.load(open(before_file))
    since = {le: n - before.get(le, 0) for le, n in now.items()}
    early, overruns = since.pop("early"), since.pop("overruns")
    total = since["+Inf"]
    if total <= 0:
        sys.exit("bench: no request drew on a budget since the earlier scrape")
    bounds = sorted((float(le), n) for le, n in since.items() if le != "+Inf")
    share = lambda b: 100.0 * next((n for le, n in bounds if abs(le - b) < 1e-12), 0) / total
    p99 = next((f"<= {le * 1000:g} ms" for le, n in bounds if n >= 0.99 * total), "> the last bucket")
    print(f"requests={int(total)} le0.05ms={share(0.00005):.2f}% le0.2ms={share(0.0002):.2f}% p99={p99.replace(' ', '')} "
          f"early_draws={int(early)} overruns={int(overruns)}")


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    {
        "size": size, "free-port": free_port, "login": login, "gql": gql, "lua": lua,
        "check": check, "table": table, "waits": waits,
    }[cmd](*args)
