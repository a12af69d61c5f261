"""Programs that read backup tools' settings on the host and print only what the judge
needs, so that no passphrase, password or credential ever leaves the host: a secret is
withheld where it is read, before collection, redaction or storage see it.

Each is an awk program (POSIX awk: mawk, gawk and busybox awk alike), written here over
several lines for reading and joined into the one-line commands of
hvconform/collect/commands.py (`one_line`). They never run a shell or another program
with a value read from the host: awk's `getline < path` is the only way they open a
file they were not given.

  BORGMATIC_YAML  one borgmatic configuration (YAML), line for line: the lines of the
                  settings the judge reads (source_directories, repositories, patterns
                  and excludes, the borg directories) as they are, the encryption
                  passphrase and passcommand as `key: "[withheld]"`, every other line
                  empty (comments too). Output line N is input line N, so evidence can
                  cite the file's own line numbers.
  RESTIC          systemd units, drop-ins and crontabs that run restic: their command
                  and environment lines with secret values withheld, then the files they
                  name (EnvironmentFile=, --files-from, --exclude-file, --repository-file,
                  RESTIC_*_FILE) read the same way (of a list, only lines that are a path
                  or one pattern), and `@stat <path>` lines for the
                  password and environment files, which the shell around it stats.
  CRON            crontab lines (and run-parts scripts) naming a backup tool, secrets withheld.
  BACULA          the FileSet resources of a Bacula/Bareos Director configuration (no
                  other resource: Director, Client, Storage and Catalog hold passwords).
  RSNAPSHOT_LOG   the last 60 lines of the log file rsnapshot.conf names.

What "withheld" covers: a YAML key or `NAME=value` whose name says pass, secret,
token, credential or key (not `*_FILE`), the argument of `--password-command`, and the
password of a URL's user information (`rest:https://user:[withheld]@host/`).
tests/unit/test_settings_filters.py runs these programs on hostile inputs.
"""

from __future__ import annotations

import re

# Shared functions. `withhold(s)` returns s with secret values replaced: s is split
# into words as a shell or systemd would (quotes kept), and each word is judged alone.
_WITHHOLD = r"""
function secretname(n) {
    n = toupper(n);
    if (n ~ /_FILE$/) return 0;
    return n ~ /PASS|SECRET|TOKEN|CREDENTIAL|(^|_)KEY($|_)/;
}
function urlsafe(w,   at, pre, post) {
    if (match(w, /:\/\/[^\/@:]*:[^\/@]*@/)) {
        pre = substr(w, 1, RSTART - 1);
        post = substr(w, RSTART + RLENGTH);
        at = substr(w, RSTART, RLENGTH);
        sub(/:[^:\/@]*@$/, ":[withheld]@", at);
        return pre at post;
    }
    return w;
}
function word(w,   bare, name, q) {
    q = substr(w, 1, 1);
    bare = w;
    if (q == "\"" || q == SQ) { bare = substr(w, 2); if (substr(bare, length(bare)) == q) bare = substr(bare, 1, length(bare) - 1); }
    else q = "";
    if (bare ~ /^--password-command=/) return "--password-command=[withheld]";
    if (match(bare, /^[A-Za-z_][A-Za-z0-9_]*=/)) {
        name = substr(bare, 1, RLENGTH - 1);
        if (name == "Environment") {
            bare = unquote(substr(bare, RLENGTH + 1));
            if (match(bare, /^[A-Za-z_][A-Za-z0-9_]*=/) && secretname(substr(bare, 1, RLENGTH - 1)))
                return q "Environment=" substr(bare, 1, RLENGTH) "[withheld]" q;
            return q "Environment=" urlsafe(bare) q;
        }
        if (secretname(name)) return q substr(bare, 1, RLENGTH) "[withheld]" q;
    }
    return urlsafe(w);
}
function withhold(s,   out, w, c, i, q, prev, n) {
    out = ""; w = ""; q = ""; prev = ""; n = length(s);
    for (i = 1; i <= n + 1; i++) {
        c = (i <= n) ? substr(s, i, 1) : " ";
        if (q != "") { w = w c; if (c == q) q = ""; continue; }
        if (c == "\"" || c == SQ) { q = c; w = w c; continue; }
        if (c == " " || c == "\t") {
            if (w != "") {
                out = out (out == "" ? "" : " ") (prev == "--password-command" ? "[withheld]" : word(w));
                prev = w; w = "";
            }
            continue;
        }
        w = w c;
    }
    if (w != "") out = out (out == "" ? "" : " ") "[withheld]";
    return out;
}
function unquote(p,   c) {
    c = substr(p, 1, 1);
    if ((c == "\"" || c == SQ) && substr(p, length(p)) == c && length(p) >= 2) return substr(p, 2, length(p) - 2);
    return p;
}
function followable(p) {
    return p ~ /^\// && p !~ /^\/(dev|proc|sys|run)(\/|$)/ && p !~ /(^|\/)\.\.(\/|$)/;
}
"""

BORGMATIC_YAML = r"""
BEGIN {
    SQ = sprintf("%c", 39);
    n = split("source_directories repositories exclude_patterns exclude_from patterns patterns_from one_file_system exclude_caches exclude_if_present exclude_nodump source_directories_must_exist borg_base_directory borg_config_directory borg_keys_directory borg_security_directory", w, " ");
    for (i = 1; i <= n; i++) LEAF[w[i]] = 1;
    mode = ""; base = -1; sect = -1; open = ""; nested = -1;
}
function indent(s) { match(s, /^ */); return RLENGTH; }
function spaces(k,   s) { s = ""; while (k-- > 0) s = s " "; return s; }
function qclosed(q, s) {
    if (q == SQ) { gsub(SQ SQ, "", s); return index(s, SQ) > 0; }
    gsub(/\\\\/, "", s); gsub(/\\"/, "", s); return index(s, "\"") > 0;
}
function fclosed(s,   i, c) {
    for (i = 1; i <= length(s); i++) {
        c = substr(s, i, 1);
        if (fq != "") { if (c == fq) fq = ""; continue; }
        if (c == "\"" || c == SQ) fq = c;
        else if (c == "[" || c == "{") depth++;
        else if (c == "]" || c == "}") depth--;
    }
    return depth <= 0;
}
function begin_value(v,   c) {
    sub(/^[ ]+/, "", v);
    sub(/^[&!][^ ]*[ ]+/, "", v);
    c = substr(v, 1, 1);
    if ((c == "\"" || c == SQ) && !qclosed(c, substr(v, 2))) open = c;
    else if (c == "[" || c == "{") { depth = 0; fq = ""; if (!fclosed(v)) open = "["; }
}
function secretkey(k) { return tolower(k) ~ /pass|secret|token|credential/; }
function uncomment(s,   i, c, q, prev) {
    q = ""; prev = " ";
    for (i = 1; i <= length(s); i++) {
        c = substr(s, i, 1);
        if (q != "") { if (c == q) q = ""; }
        else if (c == "\"" || c == SQ) q = c;
        else if (c == "#" && (prev == " " || prev == "\t")) return substr(s, 1, i - 1);
        prev = c;
    }
    return s;
}
open != "" {
    if (keepopen && tolower($0) !~ /(pass|secret|token|credential)[a-z_]*[ ]*:/) print uncomment($0); else print "";
    if (open == "[" ? fclosed($0) : qclosed(open, $0)) open = "";
    next;
}
/^[ ]*(#.*)?$/ { print ""; next; }
{
    ind = indent($0);
    if (mode != "" && (ind > base || (ind == base && $0 ~ /^ *- /))) {
        if (mode != "keep" || (nested >= 0 && ind > nested)) { print ""; next; }
        nested = -1;
        line = uncomment($0);
        if (match(line, /^ *(- +)?[A-Za-z_][A-Za-z0-9_]*[ ]*:([ ]|$)/)) {
            key = substr(line, 1, RLENGTH);
            sub(/^ *(- +)?/, "", key); sub(/[ ]*:.*$/, "", key);
            if (secretkey(key)) {
                print substr(line, 1, index(line, key) - 1) key ": \"[withheld]\"";
                nested = index(line, key) - 1;
                keepopen = 0; begin_value(substr(line, RLENGTH + 1));
                next;
            }
        }
        if (tolower(line) ~ /(pass|secret|token|credential)[a-z_]*[ ]*:/) { print ""; next; }
        print line;
        next;
    }
    mode = ""; nested = -1;
    if (sect >= 0 && ind <= sect) sect = -1;
    if (match($0, /^ *[A-Za-z_][A-Za-z0-9_]*[ ]*:([ ]|$)/)) {
        key = substr($0, ind + 1, RLENGTH - ind);
        sub(/[ ]*:.*$/, "", key);
        rest = substr($0, RLENGTH + 1);
        sub(/^[ ]+/, "", rest);
        if (ind == 0 && (key == "location" || key == "storage") && (rest == "" || rest ~ /^#/)) {
            print key ":"; sect = 0; next;
        }
        if ((key in LEAF) && (ind == 0 || sect >= 0)) {
            line = uncomment($0);
            if (tolower(rest) ~ /(pass|secret|token|credential)[a-z_]*[ ]*:/) print "";
            else print line;
            mode = "keep"; base = ind; keepopen = 1; begin_value(rest); next;
        }
        if (key ~ /^encryption_pass(phrase|command)$/ && (ind == 0 || sect >= 0))
            print spaces(ind) key ": \"[withheld]\"";
        else
            print "";
        mode = "drop"; base = ind; keepopen = 0; begin_value(rest);
        next;
    }
    if ($0 ~ /^ *<<: *!include +[^ ]+ *$/ && (ind == 0 || sect >= 0)) { print; next; }
    print "";
}
"""

RESTIC = _WITHHOLD + r"""
BEGIN { SQ = sprintf("%c", 39); }
FNR == 1 { flush(); file = FILENAME; mentions = 0; kept = 0; }
/restic|RESTIC_/ { mentions = 1; }
/^[ \t]*(#|;|$)/ { next; }
/^[ \t]*(ExecStart|ExecStartPre|Environment|EnvironmentFile|User)=/ || /restic|RESTIC_/ {
    kept++; LINE[kept] = FNR ": " withhold($0); RAW[kept] = $0;
}
function flush(   i) {
    if (file == "" || !mentions) return;
    print "### unit " file;
    for (i = 1; i <= kept; i++) { print LINE[i]; refs(RAW[i]); }
    print "@stat " file;
}
function addref(kind, p) {
    p = unquote(p);
    if (p == "" || (kind SUBSEP p) in SEEN || !followable(p)) return;
    SEEN[kind SUBSEP p] = 1; NREF++; RKIND[NREF] = kind; RPATH[NREF] = p;
}
function refs(s,   n, a, i, w, v) {
    if (match(s, /^[ \t]*EnvironmentFile=-?/)) { addref("env", substr(s, RLENGTH + 1)); return; }
    n = split(s, a, /[ \t]+/);
    for (i = 1; i <= n; i++) {
        w = a[i]; v = "";
        if (match(w, /^--[a-z-]+=/)) { v = substr(w, RLENGTH + 1); w = substr(w, 1, RLENGTH - 1); }
        else if (i < n) v = a[i + 1];
        if (w ~ /^--(files-from|files-from-verbatim|exclude-file|iexclude-file)$/) addref("list", v);
        else if (w == "--repository-file") addref("repo", v);
        else if (w == "--password-file" || w == "-p") addref("stat", v);
    }
}
function unreadable(p,   line) {
    if ((getline line < p) < 0) { print "### unreadable " p; print "@stat " p; return 1; }
    close(p);
    return 0;
}
function envfile(p,   line, n, name, value) {
    if (unreadable(p)) return;
    print "### envfile " p;
    n = 0;
    while ((getline line < p) > 0 && n < 2000) {
        n++;
        if (!match(line, /^[ \t]*(export[ \t]+)?RESTIC_[A-Z_]+=/)) continue;
        name = line; sub(/^[ \t]*(export[ \t]+)?/, "", name); sub(/=.*$/, "", name);
        value = substr(line, RLENGTH + 1); sub(/[ \t]+$/, "", value); value = unquote(value);
        if (name == "RESTIC_REPOSITORY" || name == "RESTIC_REPOSITORY_FILE" || name == "RESTIC_PASSWORD_FILE")
            print n ": " name "=" urlsafe(value);
        else if (name == "RESTIC_PASSWORD" || name == "RESTIC_PASSWORD_COMMAND")
            print n ": " name "=[withheld]";
        if (name == "RESTIC_REPOSITORY_FILE") addref("repo", value);
        if (name == "RESTIC_PASSWORD_FILE") addref("stat", value);
    }
    close(p);
    print "@stat " p;
}
function listfile(p,   line, n) {
    if (unreadable(p)) return;
    print "### list " p;
    n = 0;
    while ((getline line < p) > 0 && n < 5000) {
        n++;
        if (line ~ /^[ \t]*[\/!*?\[~]/ || line ~ /^[ \t]*[^ \t#=:]+[ \t]*$/) print n ": " line;
    }
    close(p);
}
function repofile(p,   line) {
    if (unreadable(p)) return;
    print "### repofile " p;
    if ((getline line < p) > 0) print "1: " urlsafe(line);
    close(p);
}
END {
    flush();
    for (i = 1; i <= NREF; i++) if (RKIND[i] == "env") envfile(RPATH[i]);
    for (i = 1; i <= NREF; i++) {
        if (RKIND[i] == "list") listfile(RPATH[i]);
        else if (RKIND[i] == "repo") repofile(RPATH[i]);
        else if (RKIND[i] == "stat") print "@stat " RPATH[i];
    }
}
"""

CRON = _WITHHOLD + r"""
BEGIN { SQ = sprintf("%c", 39); }
/^[ \t]*(#|$)/ { next; }
/borgmatic|restic|rsnapshot|borg[ \t]+create|bacula|bareos/ { print FILENAME ":" FNR ": " withhold($0); }
"""

BACULA = r"""
function depth_of(s,   i, c, q) {
    q = 0;
    for (i = 1; i <= length(s); i++) {
        c = substr(s, i, 1);
        if (c == "\"") q = !q;
        else if (!q && c == "#") break;
        else if (!q && c == "{") d++;
        else if (!q && c == "}") d--;
    }
}
FNR == 1 { d = 0; res = ""; print "### file " FILENAME; }
{
    low = tolower($0);
    if (d == 0) {
        res = "";
        if (low ~ /^[ \t]*file[ \t]*set[ \t]*\{/) res = "fileset";
        else if (low ~ /^[ \t]*storage[ \t]*\{/) { res = "storage"; print FNR ": Storage {"; }
        if ($0 ~ /^[ \t]*@/) print FNR ": " $0;
    }
    if (res == "fileset") print FNR ": " $0;
    else if (res == "storage" && d > 0 && low ~ /^[ \t]*(name|address|sd[ \t]*address)[ \t]*=/ && low !~ /password/) print FNR ": " $0;
    else if (low ~ /^[ \t]*pki[ \t]*(encryption|signatures|keypair|cipher)[ \t]*=/) print FNR ": " $0;
    depth_of($0);
    if (d <= 0) { if (res == "storage") print FNR ": }"; d = 0; res = ""; }
}
"""

RSNAPSHOT_LOG = _WITHHOLD + r"""
$1 == "logfile" && NF >= 2 { logf = $2; }
END {
    if (logf == "") logf = "/var/log/rsnapshot.log";
    if (!followable(logf)) exit;
    print "### log " logf;
    while ((getline line < logf) > 0) { n++; L[n % 60] = line; }
    for (i = n - 59; i <= n; i++) if (i > 0) print L[i % 60];
}
"""


def one_line(program: str) -> str:
    """The program as one line: whole-line comments and line breaks go (every statement
    above ends in `;` or a brace, so the result parses the same); a quote would end the
    shell word it is sent in, and `{name}` would read as a placeholder."""
    body = " ".join(line.strip() for line in program.splitlines()
                    if line.strip() and not line.strip().startswith("#"))
    if "'" in body or re.search(r"\{\w+\}", body):
        raise ValueError("an awk program for a command may hold no ' and no {name}")
    return body
