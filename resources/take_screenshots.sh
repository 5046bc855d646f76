#!/bin/bash
# Retakes the README's screenshots from the app's own windows, dark and light, into
# resources/screenshots. Run as root from the repository, after `cargo build`:
#   unshare --net dbus-run-session -- resources/take_screenshots.sh
# It must run inside a private network namespace (unshare --net): the start screen and the host
# announce themselves by broadcast, which stays inside it. Needs Xvfb, xdotool and ImageMagick.
set -u
ip link set lo up
ip link add lan0 type veth peer name lan1 && ip addr add 192.168.1.20/24 dev lan0 && ip link set lan0 up && ip link set lan1 up
B=${LANSHARE_BIN:-target/debug/lanshare}
OUT=resources/screenshots; TMP=$(mktemp -d)
export LANSHARE_LOG=warn
Xvfb :55 -screen 0 1280x800x24 >/dev/null 2>&1 &
XV=$!; sleep 1; export DISPLAY=:55
export XDG_RUNTIME_DIR=$(mktemp -d); chmod 700 $XDG_RUNTIME_DIR
export HOME=$(mktemp -d)  # downloads go to its Downloads folder
HOSTCFG=$(mktemp -d)
LANSHARE_CONFIG_DIR=$HOSTCFG $B host --port 5005 --name "Room 101" --max-file-size 1GB --memory-limit 2GiB >$TMP/host.log 2>&1 &
HP=$!; sleep 1.5
ALICE=$(mktemp -d); F=$(mktemp -d)
for n in "Week 3 slides.pdf:2400000" "team photo.jpg:3100000" "budget-2026.xlsx:88000" "notes.txt:4200" "demo.mp4:45000000" "source.zip:1200000"; do
  name=${n%%:*}; size=${n##*:}; head -c $size /dev/urandom > "$F/$name"
done
LANSHARE_CONFIG_DIR=$ALICE LANSHARE_NO_DISCOVERY=1 $B send --host 127.0.0.1:5005 --user Alice "$F"/* >/dev/null 2>&1
# Carol shares a recording from her own machine (direct), serving it while the shots are taken.
CAROL=$(mktemp -d); D=$(mktemp -d); head -c 300000000 /dev/zero > "$D/lecture recording.mkv"
LANSHARE_CONFIG_DIR=$CAROL LANSHARE_NO_DISCOVERY=1 $B send --direct --host 127.0.0.1:5005 --user Carol "$D/lecture recording.mkv" >/dev/null 2>&1 &
DP=$!; sleep 3
shot() { # shot NAME PID (the window's id is left in $w)
  w=""
  for i in $(seq 1 60); do w=$(xdotool search --onlyvisible --pid $2 2>/dev/null | head -1); [ -n "$w" ] && break; sleep 0.5; done
  sleep 4
  xdotool windowraise $w
  import -window $w PNG24:$OUT/$1.png
  echo "$OUT/$1.png"
}
PORT=5006
for theme in dark light; do
  PORT=$((PORT+1))
  SUFFIX=$([ $theme = light ] && echo -light)
  CFG=$(mktemp -d); echo "{\"username\":\"Bob\",\"theme\":\"$theme\"}" > $CFG/settings.json
  LANSHARE_CONFIG_DIR=$CFG $B gui >$TMP/start-$theme.log 2>&1 & P=$!
  shot start$SUFFIX $P; kill $P; wait $P 2>/dev/null
  LANSHARE_CONFIG_DIR=$CFG $B gui --join 127.0.0.1:5005 --user Bob >$TMP/participant-$theme.log 2>&1 & P=$!
  shot participant$SUFFIX $P
  if [ $theme = dark ]; then
    # A download in progress: the largest file, chosen and started from the keyboard.
    head -c 700000000 /dev/zero > "$F/holiday video.mkv"
    LANSHARE_CONFIG_DIR=$ALICE LANSHARE_NO_DISCOVERY=1 $B send --host 127.0.0.1:5005 --user Alice "$F/holiday video.mkv" >/dev/null 2>&1
    sleep 2
    xdotool windowfocus --sync $w; xdotool key Down Down Down Return
    sleep 1.5
    import -window $w PNG24:$OUT/transfers.png
    echo "$OUT/transfers.png"
  fi
  kill $P; wait $P 2>/dev/null
  HCFG=$(mktemp -d); echo "{\"username\":\"Hana\",\"theme\":\"$theme\"}" > $HCFG/settings.json
  LANSHARE_CONFIG_DIR=$HCFG $B gui --host-mode --port $PORT --user Hana >/dev/null 2>&1 & P=$!
  for i in $(seq 1 40); do LANSHARE_CONFIG_DIR=$ALICE LANSHARE_NO_DISCOVERY=1 $B ls --host 127.0.0.1:$PORT >/dev/null 2>&1 && break; sleep 0.5; done
  LANSHARE_CONFIG_DIR=$ALICE LANSHARE_NO_DISCOVERY=1 $B send --host 127.0.0.1:$PORT --user Alice "$F/notes.txt" "$F/team photo.jpg" "$F/Week 3 slides.pdf" >/dev/null 2>&1
  shot host$SUFFIX $P; kill $P; wait $P 2>/dev/null
done
kill $DP $HP $XV
