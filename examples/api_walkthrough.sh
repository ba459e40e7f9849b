#!/usr/bin/env bash
# vident's REST API, step by step, as a new user meets it: a first administrator, two agencies
# and their users, a seizure uploaded and triaged, a series and an identified victim, a later
# seizure of another agency that triages as known with "victim identified by ...", that agency
# refused the first agency's case, and the audit trail checked, then edited and checked again.
#
# Before: `vident init` made a data directory with no user yet, and `vident serve` runs on it.
# Needs curl and the Python that runs vident (JSON, TOTP codes and the demo pictures).
#
#   VIDENT_URL   the server (default http://127.0.0.1:8000)
#   VIDENT_DATA  its data directory (default ./vident-data): the steps that need no server,
#                `vident admin bootstrap` and `vident audit verify`, run on it directly
#   VIDENT       the vident command (default vident); PYTHON the Python with vident (python3)
#   FIRST_ZIP, SECOND_ZIP  the two seizures; left out, generated pictures are zipped instead
#                (SECOND_ZIP then holds a copy and a changed copy of a picture of FIRST_ZIP)
#
# The last step edits the audit trail of the store: run this on a throwaway data directory
# only. It stops at the bootstrap on any directory that has users already.
set -euo pipefail

VIDENT_URL=${VIDENT_URL:-http://127.0.0.1:8000}
export VIDENT_DATA=${VIDENT_DATA:-./vident-data}
VIDENT=${VIDENT:-vident}
PYTHON=${PYTHON:-python3}
API="$VIDENT_URL/api/v1"
PASSWORD="correct horse battery staple"

work=$(mktemp -d)             # cookie jars, CSRF tokens and answers; gone when the script ends
trap 'rm -rf "$work"' EXIT

say() { printf '\n== %s\n' "$*"; }

# field KEY...: the values of KEYS (dotted paths into the JSON on standard input), one a line.
field() {
    "$PYTHON" -c '
import json, sys
doc = json.load(sys.stdin)
for path in sys.argv[1:]:
    value = doc
    for key in path.split("."):
        value = value[int(key)] if isinstance(value, list) else value[key]
    print(json.dumps(value) if isinstance(value, (dict, list)) else value)
' "$@"
}

# json KEY VALUE...: a JSON object of string fields, quoted properly.
json() {
    "$PYTHON" -c '
import json, sys
pairs = sys.argv[1:]
print(json.dumps(dict(zip(pairs[::2], pairs[1::2]))))
' "$@"
}

# totp URI: the current six-digit code of an otpauth:// enrolment URI (what an app would show).
totp() {
    "$PYTHON" -c '
import sys, urllib.parse, pyotp
query = urllib.parse.parse_qs(urllib.parse.urlparse(sys.argv[1]).query)
print(pyotp.TOTP(query["secret"][0]).now())
' "$1"
}

# api WHO METHOD PATH [curl options...]: one request as WHO, with their session cookie and, for
# a change, their CSRF token. Prints the JSON answer; on an error status prints the problem
# and fails.
api() {
    local who=$1 method=$2 path=$3 status
    shift 3
    local csrf=()
    if [[ $method != GET && -s "$work/$who.csrf" ]]; then
        csrf=(-H "X-CSRF-Token: $(cat "$work/$who.csrf")")
    fi
    status=$(curl -sS -o "$work/answer" -w '%{http_code}' -X "$method" \
        -b "$work/$who.jar" -c "$work/$who.jar" ${csrf[@]+"${csrf[@]}"} "$@" "$API$path")
    if [[ $status != 2?? ]]; then
        echo "error: $method $path as $who answered $status: $(cat "$work/answer")" >&2
        return 1
    fi
    cat "$work/answer"
}

# post WHO PATH JSON: a JSON change as WHO.
post() { api "$1" POST "$2" -H 'Content-Type: application/json' -d "$3"; }

# login WHO TOTP_URI: password and the current TOTP code; keeps the cookie and CSRF token.
# The first login completes the user's TOTP enrolment.
login() {
    post "$1" /auth/login "$(json username "$1" password "$PASSWORD" totp "$(totp "$2")")" \
        | field csrf_token >"$work/$1.csrf"
    echo "$1 logged in (session cookie and CSRF token kept)"
}

# upload WHO SOURCE CASE ZIP: POST /jobs, then GET /jobs/ID until the ingest has finished.
upload() {
    local who=$1 source=$2 case=$3 zip=$4 job state last="" status files total errors
    job=$(api "$who" POST "/jobs?source=$source&case=$case" -F "file=@$zip" | field id)
    echo "$who uploaded $(basename "$zip") as $source: job $job"
    for _ in $(seq 600); do
        state=$(api "$who" GET "/jobs/$job" | field status files_done files_total errors \
            | paste -sd' ')
        if [[ $state != "$last" ]]; then
            read -r status files total errors <<<"$state"
            echo "  job $job: $status, $files of $total files, $errors errors"
            last=$state
        fi
        case $state in
            done*) return 0 ;;
            failed*) echo "error: job $job failed: $(api "$who" GET "/jobs/$job" | field error)" >&2
                return 1 ;;
        esac
        sleep 0.5
    done
    echo "error: job $job did not finish in 5 minutes" >&2
    return 1
}

# triage WHO SOURCE: the verdict of every file, with the series and identification it hit.
triage() {
    api "$1" GET "/sources/$2/triage" | "$PYTHON" -c '
import json, sys
report = json.load(sys.stdin)
counts = ", ".join("%s %d" % pair for pair in report["counts"].items())
print("triage of %s: %s" % (report["source"], counts))
for item in report["items"]:
    notes = ["series " + r["series"] for r in item["reasons"] if r.get("series")]
    notes += [r["identified"] for r in item["reasons"] if r.get("identified")]
    notes = list(dict.fromkeys(notes))
    line = "  %s: %s" % (item["path"], item["verdict"])
    print(line + (" (%s)" % "; ".join(notes) if notes else ""))
'
}

# 0. The two seizures: given, or generated (benign photo-like pictures, never real material).
if [[ -z ${FIRST_ZIP:-} || -z ${SECOND_ZIP:-} ]]; then
    FIRST_ZIP=$work/first.zip SECOND_ZIP=$work/second.zip
    "$PYTHON" -c '
import io, sys, zipfile
from vident.demo.synthetic import photo_like
def jpeg(image, quality=90):
    buffer = io.BytesIO(); image.save(buffer, "JPEG", quality=quality); return buffer.getvalue()
pictures = [photo_like(640, 480, seed) for seed in (1, 2, 3)]
with zipfile.ZipFile(sys.argv[1], "w") as first:
    for n, picture in enumerate(pictures, 1):
        first.writestr(f"camera/IMG_{n:04d}.jpg", jpeg(picture))
with zipfile.ZipFile(sys.argv[2], "w") as second:
    second.writestr("copy.jpg", jpeg(pictures[0]))
    second.writestr("changed.jpg", jpeg(pictures[0].resize((560, 420)), quality=70))
' "$FIRST_ZIP" "$SECOND_ZIP"
fi

# 1. The server answers without credentials only on health (and login).
say "1. the server"
api nobody GET /health | field status version | paste -sd' ' | sed 's/^/health: /'

# 2. The first administrator, made on the data directory (no agency: sees everything).
say "2. vident admin bootstrap"
chief_uri=$(printf '%s\n' "$PASSWORD" \
    | "$VIDENT" admin bootstrap --username chief --password-stdin \
    | grep -o 'otpauth://[^ ]*')
echo "chief created; TOTP enrolment ${chief_uri%%\?*}"
login chief "$chief_uri"

# 3. Two agencies, and one analyst in each; each answer holds the user's TOTP URI and
#    recovery codes, shown this once.
say "3. agencies and users"
until=$("$PYTHON" -c 'import datetime; print(datetime.date.today() + datetime.timedelta(days=365))')
post chief /agencies "$(json name "Kripo Berlin" country DE)" | field name | sed 's/^/agency /'
post chief /agencies "$(json name "Politie Utrecht" country NL)" | field name | sed 's/^/agency /'
add_user() { # add_user NAME AGENCY: prints the TOTP URI
    post chief /users "$(json username "$1" agency "$2" role analyst \
        certified_until "$until" password "$PASSWORD")" >"$work/$1.enrolment"
    field recovery_codes <"$work/$1.enrolment" >"$work/$1.recovery"
    field totp_uri <"$work/$1.enrolment"
}
bea_uri=$(add_user bea "Kripo Berlin")
joost_uri=$(add_user joost "Politie Utrecht")
echo "users bea (Kripo Berlin) and joost (Politie Utrecht), each with a TOTP URI and recovery codes"

# 4. bea enrols TOTP: her authenticator computes a code from the URI; the first login with it
#    completes the enrolment.
say "4. bea logs in"
login bea "$bea_uri"
api bea GET /me | field username role agency | paste -sd' ' | sed 's/^/me: /'

# 5. bea uploads a seizure into her agency's case; the server ingests it in the background.
say "5. bea uploads a seizure"
upload bea EX1 OP-LANTERN "$FIRST_ZIP"

# 6. Its triage: nothing is known yet, so everything is new.
say "6. its triage"
triage bea EX1

# 7. A series in the case, holding the seizure's pictures.
say "7. a series"
post bea /series "$(json name BLUE-ROOM case OP-LANTERN)" | field name status | paste -sd' ' \
    | sed 's/^/series /'
api bea GET /sources/EX1/triage | "$PYTHON" -c '
import json, sys
print("\n".join(i["sha256"] for i in json.load(sys.stdin)["items"] if i["sha256"]))
' >"$work/ex1.sha256"
while read -r sha256; do
    post bea /series/BLUE-ROOM/media "$(json sha256 "$sha256")" >/dev/null
    echo "  added ${sha256:0:16}..."
done <"$work/ex1.sha256"

# 8. The series' victim, recorded under a pseudonymous code and identified by bea's agency.
say "8. a victim, identified"
victim=$(post bea /victims '{"series": ["BLUE-ROOM"]}' | field code)
post bea "/victims/$victim/identify" '{}' | field code identified_by identified_country \
    identified_on | paste -sd' ' | sed 's/^/victim identified: /'

# 9. joost, of the other agency, logs in and uploads a later seizure: a copy and a changed
#    copy of one of bea's pictures.
say "9. joost uploads a later seizure"
login joost "$joost_uri"
upload joost NL-7 OP-TULIP "$SECOND_ZIP"

# 10. Its triage says known (and near), with the series and who identified its victim, though
#     joost sees nothing else of bea's case.
say "10. joost's triage"
triage joost NL-7

# 11. bea's case is not shared: to joost it does not exist.
say "11. joost reads bea's case"
status=$(curl -sS -o /dev/null -w '%{http_code}' -b "$work/joost.jar" "$API/cases/OP-LANTERN")
echo "GET /cases/OP-LANTERN as joost: $status"
if [[ $status != 404 ]]; then
    echo "error: joost should not see bea's unshared case" >&2
    exit 1
fi

# 12. The audit trail holds every step above; its hash chain is intact.
say "12. vident audit verify"
"$VIDENT" audit verify

# 13. Edit one event in the store, as someone covering their tracks would: verify finds it.
say "13. an edit in the database"
if [[ -n ${VIDENT_DB:-} ]]; then
    echo "skipped: the store is not the data directory's SQLite file"
    exit 0
fi
"$PYTHON" -c '
import sqlite3, sys
with sqlite3.connect(sys.argv[1]) as db:
    db.execute("UPDATE audit_event SET actor = ? WHERE id = 2", ("someone-else",))
print("UPDATE audit_event SET actor = '\''someone-else'\'' WHERE id = 2")
' "$VIDENT_DATA/vident.db"
if "$VIDENT" audit verify; then
    echo "error: the edited audit trail verified" >&2
    exit 1
fi
echo "audit verify after the edit: FAILED, as it must"
