#!/usr/bin/env bash
# Deploy a new version to every instance, one at a time, losing no request.
#
#   deploy/rolling-restart.sh 8001 8002
#
# For each instance (named by its port, as flask-api@8001.service is):
#   1. re-exec it in place: `systemctl reload flask-api@PORT`, whose ExecReload
#      runs deploy/gunicorn-reexec.sh (new master and workers first, on the same
#      socket, then the old master drains);
#   2. check that it is ready: GET http://127.0.0.1:PORT/readyz answers 200
#      (with a Host the instances accept, see READY_HOST below);
#   3. only then go on to the next one.
# The first failure stops the run with exit 1, so the instances not yet reached
# keep the version they had; nginx keeps sending traffic to all of them.
#
# Without systemd (supervisord, a container, the test suite) set PIDFILE_TEMPLATE
# to the gunicorn pid files, `%i` standing for the port, and the script runs
# gunicorn-reexec.sh itself:
#   PIDFILE_TEMPLATE=/run/flask-api/%i.pid deploy/rolling-restart.sh 8001 8002
# READY_URL_TEMPLATE changes the readiness URL (default http://127.0.0.1:%i/readyz).
#
# The probe sends a Host header the instances accept: READY_HOST if set, else
# the first name of TRUSTED_HOSTS, taken from the environment or else from
# ENV_FILE (default /etc/flask-api/env, the unit's EnvironmentFile), since with
# TRUSTED_HOSTS set any other Host is answered 400 INVALID_HOST.
set -euo pipefail

if (($# == 0)); then
  echo "usage: $0 PORT..." >&2
  exit 2
fi
HERE=$(cd "$(dirname "$0")" && pwd)
READY_URL_TEMPLATE=${READY_URL_TEMPLATE:-http://127.0.0.1:%i/readyz}
READY_TIMEOUT=${READY_TIMEOUT:-30}
ENV_FILE=${ENV_FILE:-/etc/flask-api/env}

# The first name of a TRUSTED_HOSTS value ("api.example.com, .example.com"),
# without the leading dot that stands for subdomains too.
first_trusted_host() {
  local first=${1%%,*}
  first=${first//[[:space:]]/}
  printf '%s' "${first#.}"
}
if [[ -z ${READY_HOST:-} ]]; then
  trusted=${TRUSTED_HOSTS:-}
  if [[ -z $trusted && -r $ENV_FILE ]]; then
    trusted=$(sed -n 's/^[[:space:]]*TRUSTED_HOSTS=//p' "$ENV_FILE" | tail -n 1)
    trusted=${trusted//[\"\']/}
  fi
  READY_HOST=$(first_trusted_host "$trusted")
fi
probe=(curl -fsS --max-time 5 -o /dev/null)
if [[ -n $READY_HOST ]]; then
  probe+=(-H "Host: $READY_HOST")
fi

for port in "$@"; do
  echo "rolling-restart: instance $port" >&2
  if [[ -n ${PIDFILE_TEMPLATE:-} ]]; then
    "$HERE/gunicorn-reexec.sh" "${PIDFILE_TEMPLATE//%i/$port}"
  else
    systemctl reload "flask-api@$port.service"
  fi
  url=${READY_URL_TEMPLATE//%i/$port}
  deadline=$((SECONDS + READY_TIMEOUT))
  until "${probe[@]}" "$url"; do
    if ((SECONDS >= deadline)); then
      echo "rolling-restart: $url not ready after ${READY_TIMEOUT}s; stopping here" >&2
      exit 1
    fi
    sleep 1
  done
done
echo "rolling-restart: done ($*)" >&2
