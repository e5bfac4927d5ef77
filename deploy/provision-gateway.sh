#!/usr/bin/env bash
# Provisions one home gateway in one step: registers it on the server (its household), gives it
# an MQTT password on the broker, and prints the lines for its gateway.toml.
#
#   deploy/provision-gateway.sh <gateway-id> --household <id> --api <server URL> --token <token>
#       [--passwd-file /etc/mosquitto/eldercare.passwd] [--broker mqtts://broker.example:8883]
#       [--no-reload]
#
#   --household   the household the gateway serves (GET /api/v1/households lists them)
#   --api         the server's HTTP address, e.g. https://eldercare.example (the gateway is
#                 registered with POST /api/v1/gateways)
#   --token       an access token of an administrator or staff member whose scope holds the
#                 household (POST /api/v1/auth/login); or ELDERCARE_TOKEN in the environment
#   --skip-server only the broker side (the gateway is registered on the server already)
#   --passwd-file Mosquitto's password_file (default /etc/mosquitto/eldercare.passwd)
#   --broker      the URL the gateway connects to, for the printed snippet
#   --no-reload   do not send SIGHUP to Mosquitto (it re-reads the password file on SIGHUP)
#
# The password is generated here (24 random bytes, base64) and printed once; only its hash is
# stored in the password file. The topic ACL (deploy/mosquitto/acl) needs no change: its
# patterns use the username, which is the gateway id. Devices are then registered through
# POST /api/v1/devices (or the console), bound to this gateway and a resident.
set -euo pipefail

die() { printf 'provision-gateway: %s\n' "$*" >&2; exit 1; }

[ $# -ge 1 ] || die "usage: $0 <gateway-id> --household <id> --api <url> --token <token> [options] (see the header)"
gw=$1; shift
household=""; api=""; token="${ELDERCARE_TOKEN:-}"; skip_server=0
passwd_file=/etc/mosquitto/eldercare.passwd; broker="mqtts://broker.example:8883"; reload=1
while [ $# -gt 0 ]; do
  case $1 in
    --household) household=${2:?}; shift 2 ;;
    --api) api=${2:?}; shift 2 ;;
    --token) token=${2:?}; shift 2 ;;
    --skip-server) skip_server=1; shift ;;
    --passwd-file) passwd_file=${2:?}; shift 2 ;;
    --broker) broker=${2:?}; shift 2 ;;
    --no-reload) reload=0; shift ;;
    *) die "unknown option $1" ;;
  esac
done

# Same rule as the server (eldercare_schema::topic::validate_gateway_id).
[[ $gw =~ ^[A-Za-z0-9_-]{1,64}$ ]] || die "gateway id '$gw': 1 to 64 of A-Z a-z 0-9 _ -"
[ "$gw" != eldercare-server ] || die "'eldercare-server' is the server's MQTT user, not a gateway id"
command -v mosquitto_passwd >/dev/null || die "mosquitto_passwd not found (apt-get install mosquitto)"
[ -e "$passwd_file" ] || die "$passwd_file does not exist (create it: touch it, chown root:mosquitto, chmod 640)"
if grep -q "^$gw:" "$passwd_file"; then die "$gw already has a password in $passwd_file"; fi

if [ $skip_server = 0 ]; then
  [ -n "$household" ] || die "--household is required (or --skip-server)"
  [ -n "$api" ] || die "--api is required (or --skip-server)"
  [ -n "$token" ] || die "--token (or ELDERCARE_TOKEN) is required (or --skip-server)"
  command -v curl >/dev/null || die "curl not found"
  body=$(mktemp); trap 'rm -f "$body"' EXIT
  status=$(curl -sS -o "$body" -w '%{http_code}' -X POST "${api%/}/api/v1/gateways" \
    -H "authorization: Bearer $token" -H 'content-type: application/json' \
    -d "{\"gateway_id\":\"$gw\",\"household_id\":$household}") || die "could not reach $api"
  [ "$status" = 201 ] || die "the server refused to register $gw (HTTP $status): $(cat "$body")"
  echo "registered $gw on the server, household $household" >&2
fi

password=$(head -c 24 /dev/urandom | base64 | tr -d '\n')
mosquitto_passwd -b "$passwd_file" "$gw" "$password"
echo "added $gw to $passwd_file" >&2
if [ $reload = 1 ]; then
  if pid=$(pidof mosquitto); then kill -HUP $pid && echo "Mosquitto reloaded its password file" >&2
  else echo "Mosquitto is not running here: it reads $passwd_file when it starts" >&2; fi
fi

cat <<TOML
# --- for /etc/eldercare/gateway.toml of $gw (the password is shown only this once) ---
gateway_id = "$gw"
mqtt_url = "$broker"
mqtt_username = "$gw"
mqtt_password = "$password"
# The CA that signed the broker's certificate, so the gateway can verify it:
# mqtt_ca_file = "/etc/eldercare/ca.crt"
TOML
