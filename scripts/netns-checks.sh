# shellcheck shell=bash
# shellcheck disable=SC2034 # counters and state are used by the sourcing scripts
# The check harness shared by the netns suites (netns-test.sh, netns-conformance-test.sh, netns-state-test.sh,
# netns-dns-test.sh, privilege-test.sh).
# Source it after scripts/netns-lib.sh; it installs the EXIT/INT/TERM traps.
#
#   check NAME FUNC      run FUNC; it returns 0 to pass, or sets DETAIL and returns non-zero
#   pass NAME / fail NAME DETAIL
#   netns_checks_done    tear down, then print the summary `N passed, N failed` as the last line; returns
#                        non-zero when a check failed (call it last)
#
# Hooks a suite may define: netns_checks_on_abort (called when the run ends before the summary, e.g. to show
# nat64d's log), NETNS_CHECKS_NO_ALIVE_NOTE (a check name whose failure is not annotated "nat64d is not
# running", e.g. the SIGTERM check). Ctrl-C anywhere, also inside a command that handles SIGINT itself, ends
# the run with the teardown.

PASSED=0
FAILED=0
SUMMARY_DONE=0
SKIP_REASON= # when set, every remaining check fails with this detail
NAT64D_PID=${NAT64D_PID:-}
CMD_TIMEOUT=${CMD_TIMEOUT:-30} # s, hard cap on any single command run through in_ns

pass() {
    PASSED=$((PASSED + 1))
    printf 'PASS %s\n' "$1"
}

fail() {
    local name=$1 detail=$2
    if [[ -n $NAT64D_PID && -z $SKIP_REASON && $name != "${NETNS_CHECKS_NO_ALIVE_NOTE:-}" ]] &&
        ! netns_pid_alive "$NAT64D_PID"; then
        detail+=" (nat64d is not running)"
    fi
    FAILED=$((FAILED + 1))
    printf 'FAIL %s: %s\n' "$name" "$detail"
}

# Collapse command output into one short line for FAIL details.
oneline() {
    local s
    s=$(tr -s '\n\t ' '   ' <<<"$1")
    s=${s# }
    s=${s% }
    ((${#s} > 300)) && s="${s:0:300}..."
    printf '%s' "${s:-<no output>}"
}

# Run a command in a namespace, bounded in time (--foreground: stay in our process group so Ctrl-C reaches
# the command).
in_ns() {
    local ns=$1 rc=0
    shift
    timeout --foreground -k 2 "$CMD_TIMEOUT" ip netns exec "$ns" "$@" || rc=$?
    # Ctrl-C killed the command (timeout reports 128 + SIGINT). bash ignores a SIGINT that its child
    # "handled", also in $(...): abort explicitly.
    if ((rc == 130)); then kill -USR1 "$$"; fi
    return "$rc"
}
client() { in_ns "$NS_CLIENT" "$@"; }
server() { in_ns "$NS_SERVER" "$@"; }

# check NAME FUNC: FUNC returns 0 for pass; on failure it sets DETAIL.
check() {
    local name=$1 fn=$2
    DETAIL=
    if [[ -n $SKIP_REASON ]]; then
        fail "$name" "$SKIP_REASON"
    elif "$fn"; then
        pass "$name"
    else
        fail "$name" "${DETAIL:-failed}"
    fi
}

# All checks ran: tear down before the summary, so the summary is the last line printed.
netns_checks_done() {
    netns_teardown
    SUMMARY_DONE=1
    printf '%s passed, %s failed\n' "$PASSED" "$FAILED"
    ((FAILED == 0))
}

netns_checks_finish() {
    local rc=$?
    set +e
    trap - INT TERM USR1
    if ((!SUMMARY_DONE)); then
        # Aborted before the summary (setup error, signal): count it.
        FAILED=$((FAILED + 1))
        printf 'FAIL harness: aborted with status %s before all checks ran\n' "$rc"
        if declare -F netns_checks_on_abort >/dev/null; then netns_checks_on_abort; fi
    fi
    netns_teardown
    if ((!SUMMARY_DONE)); then
        printf '%s passed, %s failed\n' "$PASSED" "$FAILED"
    fi
    if ((FAILED > 0)); then exit 1; fi
    exit "$rc"
}
trap netns_checks_finish EXIT
trap 'exit 130' INT USR1
trap 'exit 143' TERM

# netns_preflight SUITE [TOOL...]: must be root, and every TOOL must be on PATH (scripts/install-deps.sh
# installs them); a TOOL that is a python interpreter path is also checked for Debian's scapy.
netns_preflight() {
    local suite=$1 tool
    shift
    if ((EUID != 0)); then
        echo "$suite: must run as root" >&2
        exit 1
    fi
    for tool in "$@"; do
        if ! command -v "$tool" >/dev/null; then
            echo "$suite: $tool not found (scripts/install-deps.sh)" >&2
            exit 1
        fi
        if [[ $tool == */python3 ]] && ! "$tool" -c 'import scapy.all' 2>/dev/null; then
            echo "$suite: $tool cannot import scapy (apt-get install python3-scapy)" >&2
            exit 1
        fi
    done
}

# netns_resolve_nat64d SUITE: sets NAT64D to a debug build of this tree unless it is already set.
netns_resolve_nat64d() {
    if [[ -z ${NAT64D:-} ]]; then
        echo "$1: NAT64D not set, running swift build (debug)" >&2
        (cd "$NETNS_REPO_ROOT" && swift build) >&2
        NAT64D="$(cd "$NETNS_REPO_ROOT" && swift build --show-bin-path)/nat64d"
    fi
}
