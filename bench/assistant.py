#!/usr/bin/env python3
"""Helpers of bench/assistant (standard library only).

  assistant.py script FILE WORD_DELAY_MS  the scripted model's turns: a tool call, then a
                                          40-word answer (wordDelayMs before each word)
  assistant.py statements URL TOKEN       ils_sql_statements_total of a server (all pools)
  assistant.py ask URL TOKEN QUESTION EXPECT
                                          asks once (a new conversation); fails unless the
                                          answer's provider is EXPECT
  assistant.py table RESULTS_DIR          the summary table of a run (also table.txt)
"""
import json
import os
import sys
import urllib.request

from tools import spread  # bench/tools.py, beside this file

ANSWER = ("You are connected to two labs: Lab 1 and Lab 2. Both connections are active, "
          "and your newest orders went to Lab 1 this week. Ask me about one order, "
          "late jobs or stock, and I will look it up.")


def script(path, word_delay_ms):
    turns = [
        {"toolCalls": [{"name": "marketplace_connections", "arguments": {}}],
         "usage": {"input_tokens": 200, "output_tokens": 20}},
        {"text": ANSWER, "usage": {"input_tokens": 400, "output_tokens": 60},
         "wordDelayMs": int(word_delay_ms)},
    ]
    with open(path, "w") as f:
        json.dump(turns, f, indent=1)
    print(f"{path}: tool call, then {len(ANSWER.split(' '))} words at {word_delay_ms} ms each")


def statements(url, token):
    req = urllib.request.Request(url.rstrip("/") + "/metrics",
                                 headers={"authorization": "Bearer " + token})
    total = 0.0
    with urllib.request.urlopen(req, timeout=30) as r:
        for line in r.read().decode().splitlines():
            if line.startswith("ils_sql_statements_total"):
                total += float(line.rsplit(" ", 1)[1])
    print(int(total))


def ask(url, token, question, expect):
    body = {"query": "mutation($m: String!) { askAssistant(input: { message: $m }) "
                     "{ conversation { id } answer { id content provider } } }",
            "variables": {"m": question}}
    req = urllib.request.Request(url.rstrip("/") + "/graphql", data=json.dumps(body).encode(),
                                 headers={"content-type": "application/json",
                                          "authorization": "Bearer " + token})
    with urllib.request.urlopen(req, timeout=60) as r:
        out = json.load(r)
    provider = ((out.get("data") or {}).get("askAssistant") or {}).get("answer", {}).get("provider")
    if out.get("errors") or provider != expect:
        sys.exit(f"bench: asking {question!r}: expected provider {expect}, got {json.dumps(out)[:500]}")
    print(f"asked {question!r}: {provider}")


# --- the table ---------------------------------------------------------------------------

def fields(path, tag):
    """KEY=VALUE pairs of the first line starting with TAG in a file, or None."""
    if not os.path.exists(path):
        return None
    for line in open(path):
        if line.startswith(tag + " "):
            out = {}
            for p in line.split()[1:]:
                k, v = p.split("=", 1)
                try:
                    out[k] = float(v)
                except ValueError:
                    out[k] = v
            return out
    return None


def read_pair(path):
    if not os.path.exists(path):
        return None
    parts = open(path).read().split()
    return (float(parts[0]), float(parts[1])) if len(parts) == 2 else None


def table(results):
    meta = json.load(open(os.path.join(results, "run.json")))
    rounds = int(meta["rounds"])
    scenarios = [
        ("me", f"`{{ me {{ user {{ id }} }} }}` (HTTP, JWT, GraphQL alone), -c{meta['conns']}"),
        ("overhead", f"model path, unique questions, -c{meta['conns']}"),
        ("load", f"model path, unique questions, -c{meta.get('load_conns', '?')}"),
        ("busy", f"model path, unique questions, -c{meta['busy_conns']}"),
        ("cache", f"cache hit (one question repeated), -c{meta['conns']}"),
        ("builtin", f"built-in answer (builtin-first on), -c{meta['conns']}"),
    ]
    head = ["scenario", "req/s", "p50 ms", "p95 ms", "p99 ms", "SQL/ask", "commits/ask",
            "CPU ms/ask", "bad"]
    rows, detail, errors = [], [], []
    if os.path.exists(os.path.join(results, "r1-async.txt")):
        scenarios.insert(2, ("async", "  the same, synchronous_commit off (diagnostic)"))
    for name, label in scenarios:
        runs = []
        for r in range(1, rounds + 1):
            base = os.path.join(results, f"r{r}-{name}")
            f = fields(base + ".txt", "ASK")
            if f is None:
                if os.path.exists(base + ".txt"):
                    errors.append(f"r{r}-{name}: no ASK line (see {base}.txt)")
                continue
            bad = int(f["non200"] + f["gql_errors"] + f["wrong_provider"] + f["socket_errors"])
            if bad:
                errors.append(f"r{r}-{name}: {bad} bad responses of {int(f['requests'])}")
            st, cpu, xa = read_pair(base + ".stmts"), read_pair(base + ".cpu"), read_pair(base + ".xacts")
            f["xacts"] = (xa[1] - xa[0]) / f["requests"] if xa and f["requests"] else float("nan")
            f["sql"] = (st[1] - st[0]) / f["requests"] if st and f["requests"] else float("nan")
            f["cpu"] = cpu[0] / cpu[1] * 1e3 / f["requests"] if cpu and f["requests"] else float("nan")
            f["bad"] = bad
            runs.append(f)
            detail.append(f"  r{r} {name:<8} {f['rps']:7.1f} req/s  p50 {f['p50_ms']:6.2f}  "
                          f"p95 {f['p95_ms']:6.2f}  p99 {f['p99_ms']:6.2f}  max {f['max_ms']:7.2f} ms  "
                          f"{f['sql']:.1f} SQL/ask  {f['xacts']:.1f} commits/ask  "
                          f"{f['cpu']:.2f} CPU ms/ask  "
                          f"{int(f['good'])}/{int(f['requests'])} good")
        if not runs:
            continue
        rps = [f["rps"] for f in runs]
        rows.append([
            label,
            f"{min(rps):,.0f}–{max(rps):,.0f}" if len(rps) > 1 else f"{rps[0]:,.0f}",
            spread([f["p50_ms"] for f in runs]), spread([f["p95_ms"] for f in runs]),
            spread([f["p99_ms"] for f in runs]), spread([f["sql"] for f in runs]),
            spread([f["xacts"] for f in runs]), spread([f["cpu"] for f in runs], "{:.2f}"),
            str(sum(f["bad"] for f in runs)),
        ])
    widths = [max(len(str(r[i])) for r in rows + [head]) for i in range(len(head))]
    line = lambda r: "  ".join(str(c).ljust(widths[i]) if i == 0 else str(c).rjust(widths[i])
                               for i, c in enumerate(r))
    out = [
        f"ILS {meta['ils_commit']} assistant benchmark: {rounds} round(s), wrk -t1 -d{meta['duration']} "
        f"--latency, {meta['cores']} cores, {meta['started']}",
        "askAssistant over HTTP, production mode, PostgreSQL + Redis, scripted model (a tool call, "
        "then a 40-word answer; 0 ms model time in the wrk runs)",
        "req/s: min–max over rounds; the rest: median (min–max) over rounds; SQL/ask: "
        "ils_sql_statements_total over the run / requests; commits: pg_stat_database.xact_commit "
        "/ requests; CPU: the server's, from /proc",
        "",
        line(head),
        line(["-" * w for w in widths]),
    ]
    out += [line(r) for r in rows]
    out.append("")
    out += detail
    idle = read_pair(os.path.join(results, "idle.stmts"))
    if idle:
        out.append(f"  idle server: {idle[1] - idle[0]:.0f} SQL statements in {meta['idle_secs']} s "
                   "(background work, included in SQL/ask above)")
    for r in range(1, rounds + 1):
        path = os.path.join(results, f"r{r}-spend.txt")
        if os.path.exists(path):
            rows = open(path).read().split("\n")[0]
            out.append(f"  before r{r}: ai_usage has {rows} rows (the cap check reads one "
                       "running total whatever their number)")
    streams = []
    for r in range(1, rounds + 1):
        f = fields(os.path.join(results, f"r{r}-stream.txt"), "STREAM")
        if f is None:
            if os.path.exists(os.path.join(results, f"r{r}-stream.txt")):
                errors.append(f"r{r}-stream: no STREAM line (see r{r}-stream.txt)")
            continue
        streams.append(f)
        if f["failed"]:
            errors.append(f"r{r}-stream: {int(f['failed'])} of {int(f['conversations'])} "
                          "conversations failed")
    if streams:
        s0 = streams[0]
        out += [
            "",
            f"{int(s0['conversations'])} conversations streaming at once (one person; "
            f"{int(s0['words'])} words at {meta['word_delay_ms']} ms each, after a tool round; "
            "times from the asks' start):",
        ]
        for r, f in enumerate(streams, 1):
            out.append(
                f"  r{r}: first chunk p50 {f['first_p50_ms']:.0f} / p95 {f['first_p95_ms']:.0f} / "
                f"max {f['first_max_ms']:.0f} ms; done p50 {f['done_p50_ms']:.0f} / "
                f"p95 {f['done_p95_ms']:.0f} / max {f['done_max_ms']:.0f} ms; "
                f"{int(f['ok'])}/{int(f['conversations'])} complete and equal to the stored answer, "
                f"{int(f['foreign_chunks'])} foreign chunks, chunks {int(f['chunks_min'])}–"
                f"{int(f['chunks_max'])}; server CPU {f['cpu_s']:.2f} s over {f['wall_s']:.2f} s, "
                f"RSS {f['rss_before_kb'] / 1024:.0f} → peak {f['rss_peak_kb'] / 1024:.0f} MB")
    if errors:
        out.append("")
        out += ["ERRORS: " + e for e in errors]
    text = "\n".join(out)
    print(text)
    with open(os.path.join(results, "table.txt"), "w") as f:
        f.write(text + "\n")
    if errors:
        sys.exit(1)


if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    {"script": script, "statements": statements, "ask": ask, "table": table}[cmd](*args)
