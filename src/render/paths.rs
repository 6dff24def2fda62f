//! Paths as people read them in a table: relative to the spec-kitty home, or
//! under `~`, escaped where they are not plain text
//! ([`crate::path_text::escaped`]). JSON always carries the full path.

use std::path::Path;

use crate::path_text::escaped;

/// A value shown in a table: an absolute path as [`short_path`] shows it;
/// anything else (versions, URLs, `?`) as it is.
pub fn short(value: &str, home_root: &Path, user_home: Option<&str>) -> String {
    let p = Path::new(value);
    if !p.is_absolute() {
        return value.to_string();
    }
    short_path(p, home_root, user_home)
}

/// `path` relative to `home_root` (`queues/queue-….db`), else with the
/// user's home as `~`, else whole; escaped.
pub fn short_path(path: &Path, home_root: &Path, user_home: Option<&str>) -> String {
    if let Ok(rel) = path.strip_prefix(home_root)
        && !rel.as_os_str().is_empty()
    {
        return escaped(rel).into_owned();
    }
    tilde(path, user_home)
}

/// `path` with the user's home directory written `~`; escaped.
pub fn tilde(path: &Path, user_home: Option<&str>) -> String {
    match user_home.filter(|h| Path::new(h).is_absolute() && *h != "/") {
        Some(h) => match path.strip_prefix(h) {
            Ok(rel) if rel.as_os_str().is_empty() => "~".to_string(),
            Ok(rel) => format!("~/{}", escaped(rel)),
            Err(_) => escaped(path).into_owned(),
        },
        None => escaped(path).into_owned(),
    }
}

/// `text` cut into lines of at most `width` characters, each cut just after
/// a `/` or `|` where one falls in the second half of the line, else at the
/// width: a path breaks between its components rather than anywhere.
/// Continuation lines are indented by two spaces.
pub fn fold(text: &str, width: usize) -> String {
    let width = width.max(8);
    let mut lines: Vec<String> = Vec::new();
    let mut rest: Vec<char> = text.chars().collect();
    loop {
        let room = if lines.is_empty() { width } else { width - 2 };
        if rest.len() <= room {
            lines.push(rest.iter().collect());
            break;
        }
        let cut = (room / 2..room)
            .rev()
            .find(|&i| matches!(rest[i - 1], '/' | '|'))
            .unwrap_or(room);
        lines.push(rest.drain(..cut).collect());
    }
    lines.join("\n  ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fold_breaks_after_separators_and_keeps_every_character() {
        assert_eq!(fold("queue.db", 20), "queue.db");
        let folded = fold("/tmp/spec-kitty-pr-1187/.venv/bin/python3", 20);
        assert_eq!(folded, "/tmp/spec-kitty-pr-1\n  187/.venv/bin/\n  python3");
        let folded = fold("/opt/spec-kitty/.venv/bin/python3", 24);
        assert_eq!(folded, "/opt/spec-kitty/.venv/\n  bin/python3");
        assert_eq!(fold("abcdefghijklmnop", 10), "abcdefghij\n  klmnop");
        for line in fold("/a/b/cccccccccccccccccccccccccccc/d", 12).lines() {
            assert!(line.chars().count() <= 12, "{line}");
        }
    }

    #[test]
    fn under_the_home_is_relative_under_the_user_home_is_tilde() {
        let h = Path::new("/home/r/.spec-kitty");
        let u = Some("/home/r");
        assert_eq!(short("/home/r/.spec-kitty/queue.db", h, u), "queue.db");
        assert_eq!(
            short("/home/r/.spec-kitty/queues/queue-ab.db", h, u),
            "queues/queue-ab.db"
        );
        assert_eq!(short("/home/r/.spec-kitty", h, u), "~/.spec-kitty");
        assert_eq!(
            short("/home/r/venv/bin/python3", h, u),
            "~/venv/bin/python3"
        );
        assert_eq!(short("/opt/sk/bin/python3", h, u), "/opt/sk/bin/python3");
        assert_eq!(short("/home/robert/x", h, u), "/home/robert/x");
        assert_eq!(short("3.1.4", h, u), "3.1.4");
        assert_eq!(short("https://x.test/", h, u), "https://x.test/");
        assert_eq!(short("/home/r/x", h, Some("/")), "/home/r/x");
        assert_eq!(short("/home/r/x", h, None), "/home/r/x");
    }
}
