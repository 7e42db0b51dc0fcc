#!/usr/bin/env bash
# Installs the MeowRobot services on this machine: publishes the executables into /opt/meowrobot/<service>, creates
# the system user `meow`, the configuration directory /etc/meowrobot (root:meow 0750, files 0640, never overwritten)
# and the key directory /etc/meowrobot/keys (meow:meow 0700), installs the units and enables them. Idempotent: run
# it again to upgrade (configuration and keys are kept). See docs/operations.md.
#
#   systemd/install.sh [--services trainer,sim,controller,promotion] [--sim-workers N] [--dry-run] [--prefix DIR]
#                      [--no-publish] [--no-enable] [--self-contained RID]
#
#   --services        which services this machine runs (workstation: trainer,sim; robot: controller); default
#                     trainer,sim,controller. `promotion` (asked for by name: a workstation that promotes a campaign's
#                     candidates to robots) is the campaign promotion stream, meow-promotion.service
#   --sim-workers N   sim worker instances meow-sim@1..N to configure and enable (default 2, ports 5601..)
#   --dry-run         print what would be done, change nothing
#   --prefix DIR      install under DIR instead of / (testing, image building): no user is created, files keep the
#                     caller's ownership, units are enabled with `systemctl --root=DIR`, nothing is started or reloaded
#   --no-publish      skip `dotnet publish` (the executables are already in place)
#   --no-enable       install the units without enabling them
#   --self-contained RID   publish with the .NET runtime included (robots without .NET), e.g. linux-arm64
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SERVICES="trainer,sim,controller"
SIM_WORKERS=2
DRY_RUN=0
PREFIX=""
PUBLISH=1
ENABLE=1
RID=""

die() { printf 'install.sh: %s\n' "$*" >&2; exit 2; }

while [ $# -gt 0 ]; do
  case "$1" in
    --services) SERVICES="${2:?--services needs a value}"; shift 2 ;;
    --services=*) SERVICES="${1#*=}"; shift ;;
    --sim-workers) SIM_WORKERS="${2:?--sim-workers needs a value}"; shift 2 ;;
    --sim-workers=*) SIM_WORKERS="${1#*=}"; shift ;;
    --dry-run) DRY_RUN=1; shift ;;
    --prefix) PREFIX="${2:?--prefix needs a directory}"; shift 2 ;;
    --prefix=*) PREFIX="${1#*=}"; shift ;;
    --no-publish) PUBLISH=0; shift ;;
    --no-enable) ENABLE=0; shift ;;
    --self-contained) RID="${2:?--self-contained needs a runtime identifier}"; shift 2 ;;
    -h|--help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '/^set -euo/d' -e 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument '$1' (see --help)" ;;
  esac
done
[[ "$SIM_WORKERS" =~ ^[0-9]+$ ]] && [ "$SIM_WORKERS" -ge 1 ] && [ "$SIM_WORKERS" -le 64 ] || die "--sim-workers must be 1-64"
[ -z "$PREFIX" ] || PREFIX="$(realpath -m "$PREFIX")"

declare -A WANT=()
IFS=',' read -r -a _list <<< "$SERVICES"
for s in "${_list[@]}"; do
  case "$s" in trainer|sim|controller|promotion) WANT[$s]=1 ;; *) die "unknown service '$s' (trainer, sim, controller, promotion)" ;; esac
done
want() { [ -n "${WANT[$1]:-}" ]; }

if [ -z "$PREFIX" ] && [ "$DRY_RUN" -eq 0 ] && [ "$(id -u)" -ne 0 ]; then
  die "installing into / needs root (or use --prefix DIR, or --dry-run)"
fi

# Every change goes through run: printed, and executed unless --dry-run.
run() {
  printf '+ %s\n' "$*"
  [ "$DRY_RUN" -eq 1 ] || "$@"
}
# Writes stdin to a file with a mode unless it exists (configuration is the site's: an upgrade never overwrites it).
write_new() {
  local mode="$1" file="$2" content
  content="$(cat)"
  if [ -e "$file" ]; then printf '= %s exists, kept\n' "$file"; return 0; fi
  printf '+ write %s (mode %s)\n' "$file" "$mode"
  [ "$DRY_RUN" -eq 1 ] && return 0
  ( umask 077; printf '%s\n' "$content" > "$file" )
  chmod "$mode" "$file"
  [ -n "$PREFIX" ] || chgrp meow "$file"
}
# Ownership only outside --prefix: the user may not exist there, and the caller may not be root.
owner() { [ -n "$PREFIX" ] || printf -- '-o %s -g %s' "$1" "$2"; }

OPT="$PREFIX/opt/meowrobot"
ETC="$PREFIX/etc/meowrobot"
UNITS="$PREFIX/etc/systemd/system"
declare -A PROJECT=([trainer]=trainer/MeowRobot.Trainer [sim]=sim/MeowRobot.Sim [controller]=controller/MeowRobot.Controller
  [promotion]=trainer/MeowRobot.Campaign)
# Where each service's executables go (the promotion stream is the campaign program's `stream serve`).
declare -A DEST=([trainer]=trainer [sim]=sim [controller]=controller [promotion]=campaign)

echo "# 1. executables -> $OPT"
for s in trainer sim controller promotion; do
  want "$s" || continue
  if [ "$PUBLISH" -eq 1 ]; then
    publish=(dotnet publish "$ROOT/${PROJECT[$s]}" -c Release -nologo -o "$OPT/${DEST[$s]}")
    [ -z "$RID" ] || publish+=(--runtime "$RID" --self-contained true)
    run "${publish[@]}"
  else
    echo "= $OPT/${DEST[$s]}: publish skipped (--no-publish)"
  fi
done
run install -D -m 0644 "$ROOT/docs/operations.md" "$OPT/docs/operations.md"
want promotion && run install -D -m 0644 "$ROOT/docs/campaigns.md" "$OPT/docs/campaigns.md"

echo "# 2. system user"
if [ -n "$PREFIX" ]; then
  echo "= user meow: not created under --prefix"
elif getent passwd meow >/dev/null; then
  echo "= user meow exists"
else
  run useradd --system --user-group --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin \
    --comment "MeowRobot services" meow
fi

echo "# 3. configuration and keys -> $ETC"
# shellcheck disable=SC2046 # owner() expands to zero or four words on purpose
run install -d -m 0750 $(owner root meow) "$ETC"
# shellcheck disable=SC2046
run install -d -m 0700 $(owner meow meow) "$ETC/keys"
if want trainer; then
  endpoints=""
  for i in $(seq 1 "$SIM_WORKERS"); do endpoints+="${endpoints:+, }\"tcp://127.0.0.1:$((5600 + i))\""; done
  write_new 0640 "$ETC/trainer.json" <<JSON
{
  "Trainer": {
    "Task": "pendulum",
    "SimEndpoints": [ $endpoints ],
    "RunDir": "/var/lib/meowrobot/trainer/run",
    "PublishEndpoint": "tcp://*:5700",
    "SecretKeyFile": "/etc/meowrobot/keys/trainer.key_secret"
  }
}
JSON
fi
if want sim; then
  write_new 0640 "$ETC/sim.json" <<JSON
{
  "Sim": { "Task": "pendulum", "Envs": 8 }
}
JSON
  for i in $(seq 1 "$SIM_WORKERS"); do
    write_new 0640 "$ETC/sim-$i.json" <<JSON
{
  "Sim": { "Bind": "tcp://127.0.0.1:$((5600 + i))" }
}
JSON
  done
fi
if want controller; then
  write_new 0640 "$ETC/controller.json" <<JSON
{
  "Controller": {
    "Loop": { "RateHz": 1000 },
    "Robot": "serial:///dev/ttyUSB0",
    "PolicyPath": "/etc/meowrobot/policy.safetensors",
    "Envelope": { "ActionLow": [ -1.0 ], "ActionHigh": [ 1.0 ] },
    "WeightStream": {
      "Endpoint": "tcp://trainer.local:5700",
      "TrainerPublicKeyFile": "/etc/meowrobot/keys/trainer.key"
    }
  }
}
JSON
fi

if want promotion; then
  write_new 0640 "$ETC/promotion.json" <<JSON
{
  "Promotion": { "Campaign": "/var/lib/meowrobot/campaigns/CAMPAIGN" }
}
JSON
fi

echo "# 4. units -> $UNITS"
run install -d -m 0755 "$UNITS"
units=()
want trainer && units+=(meow-trainer.service)
want sim && units+=(meow-sim@.service meow-sim.target)
want controller && units+=(meow-controller.service)
want promotion && units+=(meow-promotion.service)
for u in "${units[@]}"; do run install -m 0644 "$ROOT/systemd/$u" "$UNITS/$u"; done

echo "# 5. enable"
systemctl_=(systemctl)
[ -z "$PREFIX" ] || systemctl_=(systemctl --root="$PREFIX")
[ -n "$PREFIX" ] || run systemctl daemon-reload
if [ "$ENABLE" -eq 1 ]; then
  enable=()
  want trainer && enable+=(meow-trainer.service)
  if want sim; then
    enable+=(meow-sim.target)
    for i in $(seq 1 "$SIM_WORKERS"); do enable+=("meow-sim@$i.service"); done
  fi
  want controller && enable+=(meow-controller.service)
  want promotion && enable+=(meow-promotion.service)
  run "${systemctl_[@]}" enable "${enable[@]}"
else
  echo "= units not enabled (--no-enable)"
fi

cat <<EOF2
# done. Next (docs/operations.md):
#   keys:   sudo -u meow /opt/meowrobot/trainer/MeowRobot.Trainer keys generate --out /etc/meowrobot/keys  (workstation)
#           copy trainer.key (the public key) to /etc/meowrobot/keys/ on each robot
#   policy: a serial robot's sizes come from its first policy: copy one (a trainer run's policy.safetensors) to
#           /etc/meowrobot/policy.safetensors on each robot, and set Controller:Envelope:ActionLow/ActionHigh in
#           controller.json to the robot's actuator limits (one entry per action; the file starts with one)
#   check:  each unit's ExecStart with --check, e.g. /opt/meowrobot/trainer/MeowRobot.Trainer serve --check --config /etc/meowrobot/trainer.json
#           (sim worker N: --config /etc/meowrobot/sim.json --config /etc/meowrobot/sim-N.json)
#   start:  systemctl start meow-sim.target meow-trainer.service   |   systemctl start meow-controller.service
EOF2
if want promotion; then
  cat <<EOF2
#   promotion: the campaign directory under /var/lib/meowrobot/campaigns/ (owned by meow), its spec's promotion:
#           section naming the robots and a stream_key the meow user can read; set Promotion:Campaign in
#           /etc/meowrobot/promotion.json, then /opt/meowrobot/campaign/MeowRobot.Campaign stream serve --check
#           --config /etc/meowrobot/promotion.json and systemctl start meow-promotion.service (docs/campaigns.md, "Promotion")
EOF2
fi
