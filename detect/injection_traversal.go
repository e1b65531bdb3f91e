package detect

// The path traversal signatures of Injection (see signatures.md).

import (
	"strings"
)

// pathTraversal returns the rule of the first path traversal signature s
// matches, or "". In the path one dot-dot segment is enough (browsers
// resolve them before sending); in parameters and headers two in a row, or
// one that reaches a well-known file; in a body three (relative links in
// Markdown are common) or one that reaches a well-known file. A value that
// is nothing but the path of a well-known file (/etc/passwd, C:\boot.ini)
// or a PHP stream wrapper URL matches anywhere.
func pathTraversal(s string, p place, f feature) string {
	if f&(fSlash|fColon) == 0 {
		return ""
	}
	if f&fDotDot != 0 {
		need := 2
		switch p {
		case inPath:
			need = 1
		case inBody:
			need = 3
		}
		if run, target := dotDotRun(s); run >= need || run >= 1 && target {
			return "traversal.dot_dot"
		}
	}
	t := strings.TrimSpace(s)
	spaced := hasSpace(t)
	if p == inPath && sensitiveTarget(t) || !spaced && pathLike(t) && sensitiveTarget(t) {
		return "traversal.sensitive_file"
	}
	if f&fColon == 0 || spaced {
		return ""
	}
	for _, w := range []string{"php://", "phar://", "expect://", "zip://", "glob://", "file:/"} {
		if strings.HasPrefix(t, w) {
			return "traversal.file_scheme"
		}
	}
	return ""
}

// hasSpace reports whether s holds ASCII white space.
func hasSpace(s string) bool {
	for i := 0; i < len(s); i++ {
		if isSpace(s[i]) {
			return true
		}
	}
	return false
}

func isSep(c byte) bool { return c == '/' || c == '\\' }

// dotDotRun returns the longest run of consecutive dot-dot segments in s
// ("../", "..\", "..;/", "....//" counted as one step each), and whether
// a run leads to a well-known file (../../etc/passwd, not "the ../ in
// paths; see /etc/hosts").
func dotDotRun(s string) (best int, target bool) {
	run, end, checks := 0, 0, 0
	// runEnds evaluates the path a run led to, up to white space or a
	// quote (a bounded number of times).
	runEnds := func() {
		if run == 0 {
			return
		}
		// A run counts when it leads somewhere: "../../ relative path"
		// is a search.
		if end == len(s) || !isSpace(s[end]) {
			best = max(best, run)
		}
		if target || checks == 64 {
			return
		}
		checks++
		e := end
		for e < len(s) && e-end < 256 && !isSpace(s[e]) && s[e] != '"' && s[e] != '\'' && s[e] != '<' && s[e] != '>' {
			e++
		}
		target = sensitiveTarget(s[end:e])
	}
	segStart := true
	for i := 0; i < len(s); {
		if segStart {
			j := i
			for j < len(s) && s[j] == '.' {
				j++
			}
			sep := j == len(s) || isSep(s[j]) || s[j] == ';' && j+1 < len(s) && isSep(s[j+1])
			if j-i >= 2 && sep || j-i == 1 && run > 0 && j < len(s) && isSep(s[j]) {
				if j-i >= 2 {
					run++ // ./ between steps changes nothing: ../././../
				}
				for j < len(s) && (isSep(s[j]) || s[j] == ';') {
					j++
				}
				i, end = j, j
				continue
			}
			runEnds()
			run = 0
			if j > i {
				i = j
				segStart = false
				continue
			}
		}
		c := s[i]
		segStart = isSep(c) || c == '=' || c == '"' || c == '\'' || c == ':' || isSpace(c)
		if !isSep(c) {
			runEnds()
			run = 0
		}
		i++
	}
	runEnds()
	return best, target
}

// pathLike: a value that is a file path or URL rather than words.
func pathLike(t string) bool {
	if t == "" {
		return false
	}
	if t[0] == '/' || t[0] == '\\' || t[0] == '~' || strings.HasPrefix(t, "file:") {
		return true
	}
	return len(t) > 2 && 'a' <= t[0] && t[0] <= 'z' && t[1] == ':' && isSep(t[2])
}

// sensitiveTarget reports whether s names a file traversal attacks read
// to prove they work.
func sensitiveTarget(s string) bool {
	if strings.IndexByte(s, '\\') >= 0 {
		s = strings.ReplaceAll(s, "\\", "/")
	}
	if !strings.Contains(s, "etc/") && !strings.Contains(s, "/.") && !strings.Contains(s, ".ini") &&
		!strings.Contains(s, "system32") && !strings.Contains(s, "proc/") && !strings.Contains(s, "web-inf") && !strings.HasPrefix(s, ".") {
		return false
	}
	for _, t := range []string{"etc/passwd", "etc/shadow", "etc/group", "etc/hosts", "etc/issue", "proc/self/", "win.ini", "boot.ini", "windows/system32", "winnt/system32", "web-inf/web.xml", ".ssh/id_rsa", ".aws/credentials", ".bash_history", ".htpasswd"} {
		if indexes(s, t, func(i int) bool { return i == 0 || isSep(s[i-1]) || s[i-1] == '.' || s[i-1] == '=' || s[i-1] == ':' }) {
			return true
		}
	}
	return false
}
