package detect

// The command injection signatures of Injection (see signatures.md).

import (
	"strings"
)

// commandInjection returns the rule of the first command injection
// signature s matches, or "". A shell metacharacter (; | || && & ` $( and,
// outside bodies, a newline) must be followed by a known command and
// something that makes it a command line: an option, a path, a number for
// the commands that take one, another metacharacter, or the end of the
// value right after the metacharacter (;id). "salt & pepper; id card" is
// words.
func commandInjection(s string, p place, f feature) string {
	if f&(fSemi|fPipeAmp|fBacktick|fDollar|fNewline|fParen) == 0 {
		return ""
	}
	if p != inBody && f&fParen != 0 && shellshock(s) {
		return "cmd.shellshock"
	}
	if f&(fSemi|fPipeAmp|fBacktick|fDollar|fNewline) == 0 {
		return ""
	}
	// gap is the first space after a word: a separator preceded by words
	// ("cd /app && ls -la", in a ticket) is prose about a shell, not a
	// value an injection ends (8.8.8.8; id).
	gap := len(s)
	if f&(fSpace|fCtrl|fNewline) != 0 {
		for i := 1; i < len(s); i++ {
			if isSpace(s[i]) && !isSpace(s[i-1]) {
				gap = i
				break
			}
		}
	}
	for i := 0; i < len(s); i++ {
		var adv int
		wrapped := false
		switch s[i] {
		case ';':
			adv = 1
		case '|', '&':
			adv = 1
			if i+1 < len(s) && s[i+1] == s[i] {
				adv = 2
			}
		case '`':
			if p == inBody {
				continue // Markdown code spans
			}
			adv, wrapped = 1, true
		case '$':
			if i+1 >= len(s) || s[i+1] != '(' {
				continue
			}
			adv, wrapped = 2, true
		case '\n':
			if p == inBody {
				continue
			}
			adv = 1
		default:
			continue
		}
		if (wrapped || !wordsBefore(s, i, gap)) && commandAt(s, i, adv, wrapped) {
			return "cmd.shell_metachar_command"
		}
		i += adv - 1
	}
	return ""
}

// wordsBefore reports whether s holds words separated by spaces before i
// (spaces just before i do not count).
func wordsBefore(s string, i, gap int) bool {
	k := i - 1
	for k >= 0 && isSpace(s[k]) {
		k--
	}
	return gap < k
}

// commandAt checks for a command line after the metacharacter at i (adv
// bytes long).
func commandAt(s string, i, adv int, wrapped bool) bool {
	j := i + adv
	k := skipShellSpace(s, j)
	spaced := k > j
	braced := false
	if k < len(s) && s[k] == '{' {
		braced = true
		k++
	}
	for _, dir := range []string{"/usr/local/bin/", "/usr/bin/", "/usr/sbin/", "/bin/", "/sbin/"} {
		if strings.HasPrefix(s[k:], dir) {
			k += len(dir)
			break
		}
	}
	// The command word, with the quotes and backslashes that hide it
	// from filters dropped (w'h'o'am'i, c\at).
	var word [16]byte
	n, e := 0, k
	for e < len(s) && e-k < 24 {
		c := s[e]
		if c == '\'' || c == '"' || c == '\\' {
			e++
			continue
		}
		if !isWord(c) || n == len(word) {
			break
		}
		word[n] = c
		n++
		e++
	}
	if n == 0 || !isCommand(string(word[:n])) {
		return false
	}
	cmd := string(word[:n])
	if e == len(s) {
		// ";id", "$(id)", "&& id", "| id" alone, "| whoami": not
		// "Wallet; ID".
		return !spaced || wrapped || adv == 2 || s[i] == '\n' || distinctiveCommand(cmd) ||
			strings.TrimLeft(s[:i], " \t") == ""
	}
	switch c := s[e]; c {
	case ';', '&', '`', ')', '<', '>', '\n':
		return true
	case '|':
		return s[i] != '|' || spaced // |id| is a table cell
	case ',':
		return braced
	}
	a := skipShellSpace(s, e)
	if a == e || a == len(s) {
		return false
	}
	return commandArg(s[a:], cmd)
}

// skipShellSpace skips spaces, tabs and $IFS in its spellings.
func skipShellSpace(s string, i int) int {
	for n := 0; i < len(s) && n < 8; n++ {
		switch {
		case s[i] == ' ' || s[i] == '\t':
			i++
		case strings.HasPrefix(s[i:], "${ifs}"):
			i += 6
		case strings.HasPrefix(s[i:], "$ifs$9"):
			i += 6
		case strings.HasPrefix(s[i:], "$ifs"):
			i += 4
		default:
			return i
		}
	}
	return i
}

// commandArg reports whether a looks like the first argument of cmd: an
// option, a path, a redirection, a variable, a URL, a quoted string; a
// number or a host name for the commands that take one.
func commandArg(a, cmd string) bool {
	switch c := a[0]; {
	case c == '-':
		return len(a) > 1 && (isWord(a[1]) || a[1] == '-')
	case c == '/' || c == '\\' || c == '~' || c == '$' || c == '.' || c == '>' || c == '<' || c == '|' || c == '\'' || c == '"' || c == '#' || c == '&' || c == ';':
		return true
	case strings.HasPrefix(a, "http://") || strings.HasPrefix(a, "https://") || strings.HasPrefix(a, "ftp://"):
		return true
	case len(a) > 2 && 'a' <= c && c <= 'z' && a[1] == ':' && isSep(a[2]):
		return true // c:\windows
	}
	if cmd == "net" {
		for _, sub := range []string{"user", "localgroup", "group", "view", "share", "use"} {
			if wordAt(a, 0, sub) {
				return true
			}
		}
	}
	if distinctiveCommand(cmd) {
		return true // whoami anything
	}
	switch cmd {
	case "sleep", "ping", "ping6", "nc", "ncat", "netcat", "telnet", "timeout", "nslookup", "dig", "host", "curl", "wget", "ftp", "tftp", "ssh":
		t := a
		if sp := strings.IndexAny(t, " \t;|&)`'\""); sp >= 0 {
			t = t[:sp]
		}
		if isNumber(t) {
			return cmd == "sleep" || cmd == "timeout" || strings.Count(t, ".") == 3 || len(t) <= 5 && cmd != "ping"
		}
		// A host name: letters, digits, dots and dashes with a dot.
		return strings.IndexByte(t, '.') > 0 && strings.Trim(t, "abcdefghijklmnopqrstuvwxyz0123456789.-") == ""
	}
	return false
}

// isCommand reports whether w is a command injection payloads run.
func isCommand(w string) bool {
	switch w {
	case "cat", "tac", "head", "tail", "more", "less", "ls", "dir", "id", "whoami", "uname", "hostname",
		"pwd", "ps", "env", "printenv", "echo", "sleep", "ping", "ping6", "nslookup", "dig", "host",
		"curl", "wget", "nc", "ncat", "netcat", "telnet", "bash", "sh", "zsh", "ksh", "dash", "csh",
		"python", "python2", "python3", "perl", "ruby", "php", "node", "lua", "powershell", "pwsh",
		"cmd", "net", "ipconfig", "ifconfig", "systeminfo", "tasklist", "type", "certutil",
		"bitsadmin", "chmod", "chown", "rm", "touch", "base64", "xxd", "busybox", "timeout", "nohup",
		"sudo", "kill", "crontab", "awk", "xterm", "ftp", "tftp", "nmap", "ssh", "uptime", "find", "printf":
		return true
	}
	return false
}

// distinctiveCommand reports whether cmd is a command name that is no
// word of prose.
func distinctiveCommand(cmd string) bool {
	switch cmd {
	case "whoami", "uname", "ifconfig", "ipconfig", "systeminfo", "tasklist", "printenv", "busybox",
		"certutil", "bitsadmin", "powershell", "pwsh", "netcat", "ncat", "nslookup", "wget", "xterm",
		"crontab", "nohup", "chmod", "python3", "python2":
		return true
	}
	return false
}

// shellshock: a value that starts with the function definition of
// CVE-2014-6271 ("() { :; };"), as bash imported it from the environment.
func shellshock(s string) bool {
	r := strings.TrimLeft(s, " \t")
	if !strings.HasPrefix(r, "()") {
		return false
	}
	r = r[skipSpaces(r, 2, 4):]
	return strings.HasPrefix(r, "{") && strings.Contains(r[:min(len(r), 64)], "};")
}
