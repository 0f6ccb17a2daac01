#!@busybox@/bin/sh
# count-up DIR N OUT (services1000 of stage2-variant.sh): once N of
# DIR/s[0-9]*/supervise/stat and DIR/s[0-9]*/log/supervise/stat say `run`,
# write /proc/uptime's seconds (CLOCK_BOOTTIME, as /run/init/boot-times) to
# OUT. Polls every 0.1 s: the figure is the supervisor's time to all up,
# give or take one poll.
cd "$1" || exit 1
while [ "$(cat s[0-9]*/supervise/stat s[0-9]*/log/supervise/stat 2>/dev/null | grep -c '^run$')" -lt "$2" ]; do
    sleep 0.1
done
read -r up _ </proc/uptime
echo "$up" >"$3"
