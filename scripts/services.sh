# shellcheck shell=bash
# Starting and stopping the local stand-ins, for bash scripts: `. scripts/services.sh`.
#
# Each service runs in a session of its own (setsid), so it and everything it spawns (cargo,
# the function binaries, a JVM's helpers) can be found again by session id (ps) and nothing else.
# Its pid file holds "<pid> <start time>". Stopping signals exactly the processes of that
# session: never a process found by name.
#
# Expects STACK_RUN_DIR (from scripts/env.sh); pid files and logs live there.

_svc_log() { printf '[%s] %s\n' "${STACK_PROFILE:-stack}" "$*" >&2; }

# When the process started, as ps tells it; empty when it is gone. With the pid it tells a live
# service from an unrelated process that got the same pid after a crash or a reboot.
_svc_started() {
    local at
    at="$(ps -o lstart= -p "$1" 2>/dev/null)" || return 0
    # shellcheck disable=SC2086 # one space between words, however ps pads them
    echo $at
}

_svc_pidfile() { printf '%s/%s.pid' "$STACK_RUN_DIR" "$1"; }
svc_log_file() { printf '%s/%s.log' "$STACK_RUN_DIR" "$1"; }

# Prints the pid of a running service; fails when it is not running.
svc_pid() {
    local pidfile pid started
    pidfile="$(_svc_pidfile "$1")"
    [[ -f "$pidfile" ]] || return 1
    IFS=' ' read -r pid started <"$pidfile" || return 1
    [[ -n "$pid" && "$(_svc_started "$pid")" == "$started" ]] || return 1
    printf '%s' "$pid"
}

svc_running() { svc_pid "$1" >/dev/null; }

# True when something accepts TCP connections on 127.0.0.1:<port>.
port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# svc_start <name> <command...>: starts the command in a new session, output appended to
# .run/<stack>/<name>.log, and records its pid file.
svc_start() {
    local name="$1" log pid sid tries=0
    shift
    mkdir -p "$STACK_RUN_DIR"
    log="$(svc_log_file "$name")"
    printf '\n=== %s: %s\n' "$(date -Is)" "$*" >>"$log"
    # Job control off: a background job must not lead its own process group, or setsid would
    # fork and $! would be a parent that exits at once.
    set +m
    setsid "$@" </dev/null >>"$log" 2>&1 &
    pid=$!
    # Until setsid() has run, the child still belongs to our session.
    while sid="$(ps -o sid= -p "$pid")" && ((sid != pid)); do
        ((++tries < 100)) || break
        sleep 0.01
    done
    if (($(ps -o sid= -p "$pid" || echo 0) != pid)); then
        _svc_log "$name exited at once; last lines of $log:"
        tail -n 20 "$log" >&2
        return 1
    fi
    printf '%s %s\n' "$pid" "$(_svc_started "$pid")" >"$(_svc_pidfile "$name")"
}

# Pids of every live process in session <sid>; a zombie is already dead, and its parent reaps it.
_svc_session_members() {
    ps -e -o pid=,sid=,stat= | awk -v sid="$1" '$2 == sid && $3 !~ /^Z/ { print $1 }'
}

# svc_stop <name>: TERM to the service's session, KILL to whatever is left after 10 s.
svc_stop() {
    local name="$1" pidfile pid started members waited=0
    pidfile="$(_svc_pidfile "$name")"
    [[ -f "$pidfile" ]] || return 0
    IFS=' ' read -r pid started <"$pidfile" || true
    if [[ -z "${pid:-}" ]]; then
        rm -f "$pidfile"
        return 0
    fi
    # A live process with another start time reused the pid: ours is gone, and its session with
    # it (the kernel does not hand out a pid still in use as a session id).
    local now
    now="$(_svc_started "$pid")"
    if [[ -n "$now" && "$now" != "$started" ]]; then
        rm -f "$pidfile"
        return 0
    fi
    members="$(_svc_session_members "$pid")"
    if [[ -n "$members" ]]; then
        _svc_log "stopping $name"
        # shellcheck disable=SC2086 # one pid per word
        kill -TERM $members 2>/dev/null || true
        while members="$(_svc_session_members "$pid")" && [[ -n "$members" ]]; do
            if ((waited >= 100)); then
                _svc_log "$name did not stop in 10 s: killing it"
                # shellcheck disable=SC2086
                kill -KILL $members 2>/dev/null || true
                sleep 0.2
                break
            fi
            sleep 0.1
            waited=$((waited + 1))
        done
    fi
    rm -f "$pidfile"
}

# svc_kill <name>: KILL to the service's whole session at once, no TERM first: a crash, as the
# fault-injection run needs it (a database that gets no chance to flush or close its files).
svc_kill() {
    local name="$1" pidfile pid started members waited=0
    pidfile="$(_svc_pidfile "$name")"
    [[ -f "$pidfile" ]] || return 0
    IFS=' ' read -r pid started <"$pidfile" || true
    if [[ -n "${pid:-}" && "$(_svc_started "$pid")" == "$started" ]]; then
        members="$(_svc_session_members "$pid")"
        if [[ -n "$members" ]]; then
            _svc_log "killing $name (SIGKILL)"
            # shellcheck disable=SC2086 # one pid per word
            kill -KILL $members 2>/dev/null || true
            # Gone for good before anyone restarts it on the same port and files.
            while [[ -n "$(_svc_session_members "$pid")" ]] && ((waited++ < 200)); do sleep 0.05; done
        fi
    fi
    rm -f "$pidfile"
}

# svc_refuse_running <advice...>: exits when a stand-in of this stack is running already — another
# run's payments and mail would mix into this one's checks, and its stack would be stopped under
# its owner's feet at the end of this run.
svc_refuse_running() {
    local service
    for service in dynamodb ses sandbox vk-api; do
        if svc_running "$service"; then
            _svc_log "error: the $STACK_PROFILE stack is already running ($service): $*"
            exit 1
        fi
    done
}

# wait_http <name> <url> <seconds>: polls until the URL answers any HTTP status. Fails early
# when the service dies, showing the end of its log.
wait_http() {
    _svc_wait "$1" "$3" curl -s -o /dev/null --max-time 2 "$2"
}

# wait_port <name> <port> <seconds>: polls until 127.0.0.1:<port> accepts connections.
wait_port() {
    _svc_wait "$1" "$3" port_in_use "$2"
}

# _svc_wait <name> <seconds> <probe...>: polls the probe command until it succeeds.
_svc_wait() {
    local name="$1" limit="$2" started=$SECONDS
    shift 2
    until "$@"; do
        if ! svc_running "$name"; then
            _svc_log "$name stopped while starting; last lines of $(svc_log_file "$name"):"
            tail -n 30 "$(svc_log_file "$name")" >&2
            return 1
        fi
        if ((SECONDS - started >= limit)); then
            _svc_log "$name not ready after ${limit} s; see $(svc_log_file "$name")"
            return 1
        fi
        sleep 0.2
    done
}
