#!/bin/bash
# sb-backup: backs up one store of the smart-building stack, restores it, and reports on it.
# Uploaded by the stack (components/backup.ts) into each backup container, which runs the
# store's own image (the MySQL image for mysqldump, the Elasticsearch image for curl, the
# notebook image for tar), so that no other image is needed.
#
#   sb-backup schedule         a backup at once, then one every BACKUP_INTERVAL_SECONDS (the container's command)
#   sb-backup now              one backup, now (npm run backup)
#   sb-backup list             the backups kept, newest first, one a line
#   sb-backup restore NAME     restores one of them (npm run restore; the command stops what uses the store first)
#   sb-backup health           exit 1 when the last backup failed, or the last success is older than twice the interval
#
# Settings (environment): BACKUP_KIND (mysql, elasticsearch or notebooks), BACKUP_INTERVAL_SECONDS,
# BACKUP_RETENTION, BACKUP_ROOT (the backup store, /backups); for mysql MYSQL_HOST, MYSQL_PORT,
# MYSQL_DATABASE, MYSQL_ROOT_PASSWORD_FILE (the password travels as a file, never in the
# environment or on a command line); for elasticsearch ELASTICSEARCH_URL, SNAPSHOT_REPOSITORY,
# ELASTICSEARCH_UID (who the node runs as, to own the snapshot folder); for notebooks NOTEBOOKS_DIR.
set -uo pipefail

KIND=${BACKUP_KIND:?BACKUP_KIND is not set}
ROOT=${BACKUP_ROOT:-/backups}
DIR="$ROOT/$KIND"
STATUS_DIR="$ROOT/.status"
INTERVAL=${BACKUP_INTERVAL_SECONDS:?BACKUP_INTERVAL_SECONDS is not set}
RETENTION=${BACKUP_RETENTION:?BACKUP_RETENTION is not set}
# The container's own record of its last attempt; the last success is also kept on the store, so
# that it outlives a replaced container.
LOCAL_STATE=${BACKUP_STATE_DIR:-/tmp/sb-backup}
# One backup or restore at a time per container (the schedule and `now` or `restore`).
LOCK_FILE="$LOCAL_STATE/lock"

log() { printf '%s sb-backup %s: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$KIND" "$*" >&2; }
fail() {
	log "ERROR: $*"
	return 1
}
# The time in a backup's name, to the second: never the same twice in a container (its lock
# serialises them), so that no backup replaces another and the names sort as the times do.
stamp() {
	local now
	now=$(date -u +%Y%m%d-%H%M%S)
	while [ "$now" = "$(cat "$LOCAL_STATE/last-stamp" 2>/dev/null)" ]; do
		sleep 1
		now=$(date -u +%Y%m%d-%H%M%S)
	done
	echo "$now" >"$LOCAL_STATE/last-stamp"
	echo "$now"
}

# ---- MySQL: a logical dump, consistent without locking (InnoDB), compressed ----------------

mysql_client() {
	# The password from its file into MYSQL_PWD for this one command (as the MySQL container's own
	# health check does): never on a command line, never in the container's environment.
	local program=$1
	shift
	MYSQL_PWD="$(cat "$MYSQL_ROOT_PASSWORD_FILE")" "$program" --host="$MYSQL_HOST" --port="${MYSQL_PORT:-3306}" \
		--protocol=tcp --user=root "$@"
}

backup_mysql() {
	local name="$MYSQL_DATABASE-$(stamp).sql.gz"
	local partial="$DIR/.$name.partial"
	[ -r "$MYSQL_ROOT_PASSWORD_FILE" ] || fail "cannot read the root password file $MYSQL_ROOT_PASSWORD_FILE" || return 1
	# --single-transaction: one consistent snapshot of the InnoDB tables without locking them;
	# --quick streams rows instead of holding a table in memory; --databases adds CREATE DATABASE
	# (with its character set) and USE, so that a restore recreates the database as it was.
	if ! mysql_client mysqldump --single-transaction --quick --routines --triggers --events \
		--databases "$MYSQL_DATABASE" | gzip -6 >"$partial"; then
		rm -f "$partial"
		fail "mysqldump of $MYSQL_DATABASE failed" || return 1
	fi
	# mysqldump writes this last line only when it got to the end.
	if ! gzip -dc "$partial" | tail -n 1 | grep -q '^-- Dump completed'; then
		rm -f "$partial"
		fail "the dump of $MYSQL_DATABASE is incomplete" || return 1
	fi
	mv "$partial" "$DIR/$name"
	echo "$KIND/$name"
}

list_mysql() { list_files '*.sql.gz'; }
delete_mysql() { delete_file "$1"; }

restore_mysql() {
	local file="$DIR/$1"
	gzip -t "$file" || fail "$1 is not a readable gzip file" || return 1
	log "restoring $1 into $MYSQL_DATABASE (the database is dropped and recreated from the dump)"
	{
		printf 'DROP DATABASE IF EXISTS `%s`;\n' "$MYSQL_DATABASE"
		gzip -dc "$file"
	} | mysql_client mysql || fail "loading $1 failed" || return 1
}

# ---- Elasticsearch: snapshots into an fs repository on the store (path.repo) ---------------

# es METHOD PATH [BODY]: sets ES_STATUS and ES_BODY.
es() {
	local out
	out=$(curl --silent --show-error --max-time 3600 -X "$1" -H 'Content-Type: application/json' \
		${3:+--data "$3"} --write-out '\n%{http_code}' "$ELASTICSEARCH_URL$2") || return 1
	ES_STATUS=${out##*$'\n'}
	ES_BODY=${out%$'\n'*}
}

es_ok() {
	es "$@" || fail "$1 $2: Elasticsearch did not answer" || return 1
	case "$ES_STATUS" in 2??) return 0 ;; esac
	fail "$1 $2: HTTP $ES_STATUS: $ES_BODY"
}

es_repository() {
	mkdir -p "$DIR" || return 1
	# The node (uid ELASTICSEARCH_UID, gid 0) writes the snapshots; the folder is made here as root.
	if [ "$(stat -c %u "$DIR")" != "${ELASTICSEARCH_UID:-1000}" ]; then
		chown "${ELASTICSEARCH_UID:-1000}:0" "$DIR" || fail "cannot hand $DIR to the Elasticsearch user" || return 1
	fi
	es_ok PUT "/_snapshot/$SNAPSHOT_REPOSITORY" "{\"type\":\"fs\",\"settings\":{\"location\":\"$DIR\"}}"
}

# The user's indices only ("-.*" leaves out the system and hidden ones, which a running node owns).
ES_INDICES='"indices":"*,-.*","include_global_state":false'

backup_elasticsearch() {
	es_repository || return 1
	local name="snapshot-$(stamp)"
	es_ok PUT "/_snapshot/$SNAPSHOT_REPOSITORY/$name?wait_for_completion=true" "{$ES_INDICES}" || return 1
	if ! grep -q '"state":"SUCCESS"' <<<"$ES_BODY"; then
		fail "snapshot $name did not succeed: $ES_BODY" || return 1
	fi
	echo "$KIND/$name"
}

list_elasticsearch() {
	es_repository >/dev/null || return 1
	es_ok GET "/_snapshot/$SNAPSHOT_REPOSITORY/_all" || return 1
	grep -o '"snapshot":"snapshot-[0-9-]*"' <<<"$ES_BODY" | cut -d'"' -f4 | sort -r
}

delete_elasticsearch() { es_ok DELETE "/_snapshot/$SNAPSHOT_REPOSITORY/$1" >/dev/null; }

restore_elasticsearch() {
	es_repository || return 1
	es_ok GET "/_snapshot/$SNAPSHOT_REPOSITORY/$1" || return 1
	local indices index
	indices=$(sed -n 's/.*"indices":\[\([^]]*\)\].*/\1/p' <<<"$ES_BODY" | tr ',' '\n' | tr -d '" ')
	log "restoring snapshot $1: its indices ($(tr '\n' ' ' <<<"$indices")) are deleted and restored"
	for index in $indices; do
		es DELETE "/$index" || return 1
		case "$ES_STATUS" in 2?? | 404) ;; *) fail "deleting index $index: HTTP $ES_STATUS: $ES_BODY" || return 1 ;; esac
	done
	es_ok POST "/_snapshot/$SNAPSHOT_REPOSITORY/$1/_restore?wait_for_completion=true" "{$ES_INDICES}" || return 1
	grep -q '"failed":0' <<<"$ES_BODY" || fail "restore of $1 failed: $ES_BODY"
}

# ---- Notebooks: a compressed archive of the notebooks volume ------------------------------

backup_notebooks() {
	local name="notebooks-$(stamp).tar.gz"
	local partial="$DIR/.$name.partial"
	# What is in the folder, not the folder itself: a restore then never has to change the mode of
	# the volume's root, which belongs to the notebook user (and root here holds no FOWNER).
	if ! (cd "$NOTEBOOKS_DIR" && find . -mindepth 1 -maxdepth 1 -printf '%P\0' | tar --null -T - -czf "$partial"); then
		rm -f "$partial"
		fail "archiving $NOTEBOOKS_DIR failed" || return 1
	fi
	mv "$partial" "$DIR/$name"
	echo "$KIND/$name"
}

list_notebooks() { list_files '*.tar.gz'; }
delete_notebooks() { delete_file "$1"; }

restore_notebooks() {
	local file="$DIR/$1"
	gzip -t "$file" || fail "$1 is not a readable gzip file" || return 1
	log "restoring $1 into $NOTEBOOKS_DIR (what is there now is replaced)"
	find "$NOTEBOOKS_DIR" -mindepth 1 -delete || fail "emptying $NOTEBOOKS_DIR failed" || return 1
	# Owned by whoever extracts them; the Jupyter container gives the folder to the notebook user
	# when it starts again (CHOWN_EXTRA).
	tar -C "$NOTEBOOKS_DIR" -xzf "$file" --no-same-owner || fail "extracting $1 failed"
}

# ---- Files on the store: listing and retention --------------------------------------------

list_files() {
	# Timestamps in the names sort as dates; partial files start with a dot and are left out.
	find "$DIR" -mindepth 1 -maxdepth 1 -type f -name "$1" ! -name '.*' -printf '%f\n' | sort -r
}

delete_file() { rm -f "$DIR/$1"; }

# ---- What every kind shares ----------------------------------------------------------------

# Deletes all but the newest RETENTION backups (only after a successful one).
apply_retention() {
	local old
	list_"$KIND" | tail -n +"$((RETENTION + 1))" | while read -r old; do
		log "retention ($RETENTION kept): deleting $old"
		delete_"$KIND" "$old" || return 1
	done
}

record() {
	local result=$1 message=$2 now
	now=$(date +%s)
	printf '%s %s %s\n' "$result" "$now" "$message" >"$LOCAL_STATE/last-result"
	if [ "$result" = ok ]; then
		printf '%s %s\n' "$now" "$message" >"$LOCAL_STATE/last-success"
		mkdir -p "$STATUS_DIR" && printf '%s %s\n' "$now" "$message" >"$STATUS_DIR/$KIND.last-success"
	fi
}

backup_now() {
	mkdir -p "$LOCAL_STATE"
	exec 9>"$LOCK_FILE"
	flock 9
	local started name
	started=$(date +%s)
	mkdir -p "$DIR" && find "$DIR" -maxdepth 1 -name '.*.partial' -delete
	if name=$(backup_"$KIND") && apply_retention; then
		record ok "$name"
		log "backed up to $name in $(($(date +%s) - started)) s"
		echo "$name"
	else
		record failed "backup failed after $(($(date +%s) - started)) s"
		log "backup failed"
		return 1
	fi
}

restore() {
	local name=${1:-}
	name=${name#"$KIND"/}
	[ -n "$name" ] || fail "usage: sb-backup restore NAME (see sb-backup list)" || return 1
	# grep reads the whole list (no -q): an early exit would fail the listing under pipefail.
	list_"$KIND" | grep -xF -- "$name" >/dev/null || fail "no backup $name here; sb-backup list shows them" || return 1
	mkdir -p "$LOCAL_STATE"
	exec 9>"$LOCK_FILE"
	flock 9
	local started
	started=$(date +%s)
	restore_"$KIND" "$name" || return 1
	log "restored $KIND/$name in $(($(date +%s) - started)) s"
}

health() {
	local result at message success=0 now
	now=$(date +%s)
	if [ -r "$LOCAL_STATE/last-result" ]; then
		read -r result at message <"$LOCAL_STATE/last-result"
		if [ "$result" = failed ]; then
			echo "the last backup failed $((now - at)) s ago: $message"
			return 1
		fi
	fi
	for file in "$LOCAL_STATE/last-success" "$STATUS_DIR/$KIND.last-success"; do
		if [ -r "$file" ]; then
			read -r at message <"$file"
			[ "$at" -gt "$success" ] && success=$at
		fi
	done
	if [ "$success" = 0 ]; then
		echo "no backup has succeeded yet"
		return 1
	fi
	if [ $((now - success)) -gt $((2 * INTERVAL)) ]; then
		echo "the last successful backup is $((now - success)) s old, more than twice the interval of $INTERVAL s"
		return 1
	fi
	echo "last successful backup $((now - success)) s ago"
}

schedule() {
	log "a backup now, then every $INTERVAL s, keeping the newest $RETENTION, into $DIR"
	local child=""
	# Job control puts each job in its own process group, so a stop ends mysqldump and gzip too.
	set -m
	trap 'log "stopping"; [ -n "$child" ] && kill -TERM -- "-$child" 2>/dev/null; exit 0' TERM INT
	while :; do
		local started next now
		started=$(date +%s)
		backup_now >/dev/null &
		child=$!
		wait "$child"
		next=$((started + INTERVAL))
		now=$(date +%s)
		sleep $((next > now ? next - now : 0)) &
		child=$!
		wait "$child"
		child=""
	done
}

case "${1:-}" in
	schedule) schedule ;;
	now) backup_now ;;
	list) list_"$KIND" | sed "s|^|$KIND/|" ;;
	restore) restore "${2:-}" ;;
	health) health ;;
	*)
		echo "usage: sb-backup schedule|now|list|restore NAME|health" >&2
		exit 2
		;;
esac
