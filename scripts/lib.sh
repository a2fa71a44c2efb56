# shellcheck shell=bash
# Shared environment and helpers for the scripts in scripts/. Source it; do not run it.
#
# Provides: REPO_ROOT, GATEHOUSE_CACHE, GATEHOUSE_TOOLS, CARGO_TARGET_DIR (exported), PATH with the
# project's tools, and the helpers log/warn/die, as_root, as_user, free_port, on_exit, start_bg/stop_bg,
# wait_for_file, stage/stage_summary.

set -euo pipefail
shopt -s inherit_errexit 2>/dev/null || true

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export REPO_ROOT

# Caches live outside the clone so CI runs and later local runs reuse them (a clean debug build of the
# console takes ~6 minutes on 2 cores).
export GATEHOUSE_CACHE=${GATEHOUSE_CACHE:-/var/cache/gatehouse}
export GATEHOUSE_TOOLS=${GATEHOUSE_TOOLS:-$GATEHOUSE_CACHE/tools}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$GATEHOUSE_CACHE/target}
case ":$PATH:" in
  *":$GATEHOUSE_TOOLS/bin:"*) ;;
  *) PATH="$GATEHOUSE_TOOLS/bin:$PATH" ;;
esac
if [[ -d "${CARGO_HOME:-$HOME/.cargo}/bin" ]]; then
  case ":$PATH:" in
    *":${CARGO_HOME:-$HOME/.cargo}/bin:"*) ;;
    *) PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH" ;;
  esac
fi
export PATH

export DEBIAN_FRONTEND=noninteractive
# Colour only on a terminal; CI logs stay plain.
if [[ -t 2 && -z "${CI:-}" ]]; then
  export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-auto}
else
  export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
  export NO_COLOR=${NO_COLOR:-1}
fi
# sqlx's query macros must not reach for a database at compile time (the test database only exists
# while the tests run); with offline mode they read the committed .sqlx/ data, if the code uses them.
export SQLX_OFFLINE=${SQLX_OFFLINE:-true}
# npm must never wait for an answer, and never download browsers for test tools.
export npm_config_yes=true npm_config_fund=false npm_config_audit=false npm_config_update_notifier=false
export PUPPETEER_SKIP_DOWNLOAD=1

GATEHOUSE_SCRIPT=$(basename "$0")

# --- messages -----------------------------------------------------------------------------------------

# log MESSAGE...: one line on stderr, prefixed with the script's name and the time.
log() { printf '[%s %(%H:%M:%S)T] %s\n' "$GATEHOUSE_SCRIPT" -1 "$*" >&2; }
warn() { printf '[%s %(%H:%M:%S)T] warning: %s\n' "$GATEHOUSE_SCRIPT" -1 "$*" >&2; }
die() {
  printf '[%s %(%H:%M:%S)T] error: %s\n' "$GATEHOUSE_SCRIPT" -1 "$*" >&2
  exit 1
}

# --- privileges ---------------------------------------------------------------------------------------

# as_root CMD...: runs CMD as root: directly when we are root, else through non-interactive sudo (CI has
# no one to type a password).
as_root() {
  if ((EUID == 0)); then
    "$@"
  elif command -v sudo >/dev/null; then
    sudo -n -- "$@"
  else
    die "need root for: $* (run as root or install sudo)"
  fi
}
# need_root is the name the other scripts know it by.
need_root() { as_root "$@"; }

# as_user USER CMD...: runs CMD as USER with the caller's environment kept (PATH, PGDATA, ...).
as_user() {
  local user=$1
  shift
  if [[ $(id -un) == "$user" ]]; then
    "$@"
  elif ((EUID == 0)) && command -v runuser >/dev/null; then
    runuser -u "$user" -- "$@"
  elif command -v sudo >/dev/null; then
    sudo -n -u "$user" -- "$@"
  else
    die "cannot run as user $user: need root (runuser) or sudo"
  fi
}

# --- ports --------------------------------------------------------------------------------------------

# free_port: prints a TCP port on 127.0.0.1 that nothing listens on right now. Another process can take
# it before we bind; callers that can bind port 0 themselves (gatehouse-server) should do that instead.
free_port() {
  if command -v node >/dev/null; then
    node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{process.stdout.write(String(s.address().port));s.close()})'
  elif command -v python3 >/dev/null; then
    python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1],end="");s.close()'
  else
    local port tries
    for ((tries = 0; tries < 100; tries++)); do
      port=$((20000 + RANDOM % 40000))
      # A refused connection means nothing listens there.
      if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
        printf '%s' "$port"
        return 0
      fi
    done
    die "no free TCP port found"
  fi
}

# --- cleanup ------------------------------------------------------------------------------------------

_ON_EXIT=()
_BG_PIDS=()
_BG_NAMES=()

# on_exit COMMAND: runs COMMAND (a string, eval'd) when the script exits, after the background processes
# are stopped; the last one registered runs first.
on_exit() { _ON_EXIT+=("$1"); }

_run_exit_handlers() {
  local rc=$? i
  trap - EXIT
  set +e
  _STAGE_END=$SECONDS # a failed stage's time excludes the cleanup below
  for ((i = ${#_BG_PIDS[@]} - 1; i >= 0; i--)); do
    stop_bg "${_BG_PIDS[i]}" "${_BG_NAMES[i]}"
  done
  for ((i = ${#_ON_EXIT[@]} - 1; i >= 0; i--)); do
    eval "${_ON_EXIT[i]}"
  done
  if declare -F _on_exit_last >/dev/null; then
    _on_exit_last "$rc"
  fi
  exit "$rc"
}
trap _run_exit_handlers EXIT
# Turn signals into an ordinary exit so the EXIT trap cleans up (130/143 as a shell would report them).
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

# start_bg NAME LOGFILE CMD...: starts CMD in the background in a session of its own (so its children can
# be stopped together), output appended to LOGFILE; sets BG_PID. It is stopped at exit unless stop_bg
# stops it first.
BG_PID=
start_bg() {
  local name=$1 logfile=$2
  shift 2
  # setsid without a fork: a background job of a non-interactive shell is not a process-group leader,
  # so the new session's id is the job's pid.
  setsid "$@" >>"$logfile" 2>&1 </dev/null &
  BG_PID=$!
  _BG_PIDS+=("$BG_PID")
  _BG_NAMES+=("$name")
  log "started $name (pid $BG_PID, log $logfile)"
}

# stop_bg PID [NAME]: SIGTERM to the process group, then SIGKILL after 15 s if it is still there.
stop_bg() {
  local pid=$1 name=${2:-process} i
  local -a kept_pids=() kept_names=()
  for i in "${!_BG_PIDS[@]}"; do
    if [[ ${_BG_PIDS[i]} != "$pid" ]]; then
      kept_pids+=("${_BG_PIDS[i]}")
      kept_names+=("${_BG_NAMES[i]}")
    fi
  done
  _BG_PIDS=("${kept_pids[@]}")
  _BG_NAMES=("${kept_names[@]}")
  kill -0 -- "-$pid" 2>/dev/null || kill -0 "$pid" 2>/dev/null || return 0
  log "stopping $name (pid $pid)"
  kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 150; i++)); do
    kill -0 -- "-$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 -- "-$pid" 2>/dev/null; then
    warn "$name did not stop within 15 s; killing it"
    kill -KILL -- "-$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}

# wait_for_file PATH SECONDS [PID NAME]: waits until PATH exists and is not empty; fails early when the
# process PID (if given) has exited.
wait_for_file() {
  local path=$1 seconds=$2 pid=${3:-} name=${4:-process} i
  for ((i = 0; i < seconds * 10; i++)); do
    [[ -s $path ]] && return 0
    if [[ -n $pid ]] && ! kill -0 "$pid" 2>/dev/null; then
      die "$name exited before writing $path"
    fi
    sleep 0.1
  done
  die "timed out after ${seconds}s waiting for $path"
}

# --- stages -------------------------------------------------------------------------------------------

_STAGE_NAMES=()
_STAGE_SECS=()
_STAGE_RESULTS=()
_STAGE_CURRENT=
_STAGE_START=0
_STAGE_END=

# stage NAME CMD...: runs CMD as a named, timed stage. A failing stage ends the script (set -e) and is
# reported as FAILED by stage_summary.
stage() {
  local name=$1
  shift
  _STAGE_CURRENT=$name
  _STAGE_START=$SECONDS
  log "==> $name"
  "$@"
  _STAGE_NAMES+=("$name")
  _STAGE_SECS+=($((SECONDS - _STAGE_START)))
  _STAGE_RESULTS+=(ok)
  _STAGE_CURRENT=
  log "<== $name ($((SECONDS - _STAGE_START))s)"
}

# stage_skip NAME REASON: records a stage that did not run.
stage_skip() {
  _STAGE_NAMES+=("$1")
  _STAGE_SECS+=(0)
  _STAGE_RESULTS+=("skipped: $2")
  log "--- $1 skipped: $2"
}

# stage_summary: prints each stage's time and result (the failed one included) on stderr.
stage_summary() {
  local i total=0
  if [[ -n $_STAGE_CURRENT ]]; then
    _STAGE_NAMES+=("$_STAGE_CURRENT")
    _STAGE_SECS+=($((${_STAGE_END:-$SECONDS} - _STAGE_START)))
    _STAGE_RESULTS+=(FAILED)
    _STAGE_CURRENT=
  fi
  ((${#_STAGE_NAMES[@]})) || return 0
  {
    printf '\n%-34s %8s  %s\n' "stage" "time" "result"
    for i in "${!_STAGE_NAMES[@]}"; do
      printf '%-34s %5dm%02ds  %s\n' "${_STAGE_NAMES[i]}" $((_STAGE_SECS[i] / 60)) $((_STAGE_SECS[i] % 60)) "${_STAGE_RESULTS[i]}"
      total=$((total + _STAGE_SECS[i]))
    done
    printf '%-34s %5dm%02ds\n\n' "total" $((total / 60)) $((total % 60))
  } >&2
}

# check_disk: refuses to build with too little space under CARGO_TARGET_DIR (a full disk makes the
# linker die with SIGBUS, which says nothing about space), and warns when space is getting low.
check_disk() {
  mkdir -p "$CARGO_TARGET_DIR"
  local free_kib free_gib
  free_kib=$(df --output=avail -k "$CARGO_TARGET_DIR" | tail -n 1)
  free_gib=$((free_kib / 1024 / 1024))
  if ((free_gib < 3)); then
    die "only ${free_gib} GiB free under $CARGO_TARGET_DIR, and a build needs several: free some space (stale incremental build data: rm -rf $CARGO_TARGET_DIR/debug/incremental) and run again"
  elif ((free_gib < 10)); then
    warn "only ${free_gib} GiB free under $CARGO_TARGET_DIR; a build may run out (rm -rf $CARGO_TARGET_DIR/debug/incremental frees the most)"
  fi
}
