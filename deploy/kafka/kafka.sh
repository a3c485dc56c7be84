#!/usr/bin/env bash
# A local Apache Kafka for development and tests: one KRaft node (broker + controller) on
# 127.0.0.1, fetched from Maven Central with Maven and run with plain java.
#
#   deploy/kafka/kafka.sh up       fetch (first time only), format a fresh scratch cluster, start
#   deploy/kafka/kafka.sh down     stop it (the pid file's process only)
#   deploy/kafka/kafka.sh status   exit 0 if it is up and answering
#
# Environment: KAFKA_PORT (9092), KAFKA_CONTROLLER_PORT (KAFKA_PORT + 1), KAFKA_CACHE (the jars,
# .cache/kafka/lib), KAFKA_RUN (scratch: config, data, logs, pid; .cache/kafka/run-PORT),
# KAFKA_HEAP_OPTS, KAFKA_KEEP_DATA=1 to restart on the old data instead of a fresh cluster,
# PYTHON (a Python with kafka-python, for the readiness check; default .venv/bin/python).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
PORT="${KAFKA_PORT:-9092}"
CPORT="${KAFKA_CONTROLLER_PORT:-$((PORT + 1))}"
LIB="${KAFKA_CACHE:-$REPO/.cache/kafka/lib}"
RUN="${KAFKA_RUN:-$REPO/.cache/kafka/run-$PORT}"
PIDFILE="$RUN/kafka.pid"
PY="${PYTHON:-$REPO/.venv/bin/python}"
START_TIMEOUT="${KAFKA_START_TIMEOUT:-90}"

say() { echo "kafka: $*" >&2; }

# The default cache and scratch folders live in the work tree; they ignore themselves.
mkdir -p "$REPO/.cache/kafka" && echo '*' >"$REPO/.cache/kafka/.gitignore"

alive() { [[ -f "$PIDFILE" ]] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }

answers() {
  # A metadata round trip through the real client library the project uses, not just an open port.
  if [[ -x "$PY" ]] && "$PY" -c 'import kafka' 2>/dev/null; then
    "$PY" - "$PORT" <<'PYEOF' >/dev/null 2>&1
import sys
from kafka import KafkaAdminClient
admin = KafkaAdminClient(bootstrap_servers=f"127.0.0.1:{sys.argv[1]}", request_timeout_ms=3000)
admin.list_topics()
admin.close()
PYEOF
  else
    (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && grep -q "Kafka Server started" "$RUN/logs/server.log" 2>/dev/null
  fi
}

fetch() {
  # A stamp names the POM it came from, so a changed version fetches again and a second start
  # needs no network at all.
  local stamp="$LIB/.fetched" want
  want="$(sha256sum "$HERE/pom.xml" | cut -d' ' -f1)"
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    return
  fi
  command -v mvn >/dev/null || { say "needs Maven (mvn) and a JDK 17+ to fetch the broker"; exit 1; }
  say "fetching Apache Kafka from Maven Central into $LIB"
  rm -rf "$LIB" && mkdir -p "$LIB"
  mvn -q -B -f "$HERE/pom.xml" dependency:copy-dependencies \
      -DoutputDirectory="$LIB" -DincludeScope=runtime
  echo "$want" >"$stamp"
}

up() {
  if alive && answers; then
    say "already up on 127.0.0.1:$PORT (pid $(cat "$PIDFILE"))"
    return
  fi
  if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
    say "port $PORT is taken by something else; set KAFKA_PORT"
    exit 1
  fi
  command -v java >/dev/null || { say "needs java (JDK 17+)"; exit 1; }
  fetch
  local cp="$LIB/*" conf="$RUN/server.properties"
  if [[ "${KAFKA_KEEP_DATA:-0}" != 1 || ! -f "$RUN/data/meta.properties" ]]; then
    rm -rf "$RUN"
    mkdir -p "$RUN/data" "$RUN/logs"
    sed -e "s#@PORT@#$PORT#g" -e "s#@CONTROLLER_PORT@#$CPORT#g" -e "s#@DATA@#$RUN/data#g" \
        "$HERE/server.properties" >"$conf"
    local cluster_id
    cluster_id="$(python3 -c 'import base64, uuid; print(base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("="))')"
    java -cp "$cp" -Dlog4j2.configurationFile="$HERE/log4j2.properties" \
        -Dkafka.logs.dir="$RUN/logs" kafka.tools.StorageTool format -t "$cluster_id" -c "$conf" \
        >"$RUN/logs/format.log" 2>&1 || { cat "$RUN/logs/format.log" >&2; exit 1; }
  fi
  # setsid: the broker outlives the shell (and make) that started it, in its own session.
  setsid nohup java ${KAFKA_HEAP_OPTS:--Xms256m -Xmx1g} -XX:+UseG1GC -XX:MaxGCPauseMillis=20 \
      -Djava.awt.headless=true -Dlog4j2.configurationFile="$HERE/log4j2.properties" \
      -Dkafka.logs.dir="$RUN/logs" -cp "$cp" kafka.Kafka "$conf" \
      >"$RUN/logs/stdout.log" 2>&1 </dev/null &
  echo $! >"$PIDFILE"
  local deadline=$((SECONDS + START_TIMEOUT))
  until answers; do
    if ! alive; then
      say "broker exited during start-up; last lines of $RUN/logs:"
      tail -n 30 "$RUN/logs/stdout.log" "$RUN/logs/server.log" >&2 2>/dev/null || true
      exit 1
    fi
    if ((SECONDS > deadline)); then
      say "no answer on 127.0.0.1:$PORT after ${START_TIMEOUT}s; see $RUN/logs"
      down
      exit 1
    fi
    sleep 0.5
  done
  say "up on 127.0.0.1:$PORT (pid $(cat "$PIDFILE"), logs in $RUN/logs)"
}

down() {
  if ! alive; then
    say "not running on port $PORT"
    rm -f "$PIDFILE"
    return
  fi
  local pid
  pid="$(cat "$PIDFILE")"
  kill -TERM "$pid"
  for _ in $(seq 1 60); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
  done
  if kill -0 "$pid" 2>/dev/null; then
    say "pid $pid ignored TERM for 30 s; killing it"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  rm -f "$PIDFILE"
  say "stopped (pid $pid)"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  status) alive && answers ;;
  *) echo "usage: $0 up|down|status" >&2; exit 2 ;;
esac
