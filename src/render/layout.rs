//! Fitting text to a terminal without splitting what must stay whole.
//!
//! Text breaks only at a space (between words) or just after a `/` or `|`
//! (between path components and scope parts): never inside a word, a file
//! name, an e-mail address, a timestamp or a status. A [`Grid`] is drawn as
//! a comfy-table whose cells are folded here first, at those places only;
//! when even the widest word of every column does not fit, the grid is
//! stacked instead (one `key: value` block per row).

use comfy_table::{Attribute, CellAlignment, Color, ContentArrangement, Table};
use owo_colors::OwoColorize;
use unicode_width::UnicodeWidthStr;

use super::Style;

/// Display width of `s` (no escape codes in it).
pub fn width(s: &str) -> usize {
    UnicodeWidthStr::width(s)
}

/// One unbreakable piece of a line, the blank before it (kept as it is
/// when the line does not break there) and whether it follows a blank
/// (else it follows a `/` or `|` directly).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Piece<'a> {
    text: &'a str,
    sep: &'a str,
    after_space: bool,
}

/// The pieces of one line: words, each cut after every `/` or `|` that is
/// that neither starts nor ends the word nor touches another `/`
/// (`https://host` stays whole).
fn pieces(line: &str) -> Vec<Piece<'_>> {
    let mut out = Vec::new();
    let mut sep = "";
    let mut rest = line.trim_start();
    while !rest.is_empty() {
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        let (word, tail) = rest.split_at(end);
        let bytes = word.as_bytes();
        let mut start = 0;
        for (i, b) in bytes.iter().enumerate() {
            let inside = i > 0 && i + 1 < bytes.len();
            if matches!(b, b'/' | b'|') && inside && bytes[i + 1] != b'/' && bytes[i - 1] != b'/' {
                out.push(Piece {
                    text: &word[start..=i],
                    sep: if start == 0 { sep } else { "" },
                    after_space: start == 0,
                });
                start = i + 1;
            }
        }
        out.push(Piece {
            text: &word[start..],
            sep: if start == 0 { sep } else { "" },
            after_space: start == 0,
        });
        let trimmed = tail.trim_start();
        sep = &tail[..tail.len() - trimmed.len()];
        rest = trimmed;
    }
    out
}

/// Extra indent of a line that continues a path (a break after `/`, `|`).
const PATH_INDENT: &str = "  ";

/// `text` wrapped to `max` columns: the first line starts with `first`,
/// every other with `rest` (a hanging indent), plus two more spaces where a
/// path was broken. Explicit newlines are kept (each line after one starts
/// with `rest`). A piece wider than a line overflows rather than being cut.
pub fn wrap(text: &str, max: usize, first: &str, rest: &str) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for (n, explicit) in text.split('\n').enumerate() {
        let mut line = String::from(if n == 0 { first } else { rest });
        let mut empty = true;
        let all = pieces(explicit);
        for (i, p) in all.iter().enumerate() {
            // A word that does not fit here but fits a line of its own goes
            // there whole rather than broken between its components.
            let word: usize = width(p.text)
                + all[i + 1..]
                    .iter()
                    .take_while(|q| !q.after_space)
                    .map(|q| width(q.text))
                    .sum::<usize>();
            let whole_word_moves = p.after_space
                && width(&line) + width(p.sep) + word > max
                && width(rest) + word <= max;
            if !empty && (whole_word_moves || width(&line) + width(p.sep) + width(p.text) > max) {
                lines.push(std::mem::take(&mut line));
                line.push_str(rest);
                if !p.after_space {
                    line.push_str(PATH_INDENT);
                }
            } else if !empty {
                line.push_str(p.sep);
            }
            let room = max.saturating_sub(width(rest) + PATH_INDENT.len());
            line.push_str(&abbreviated(p.text, room));
            empty = false;
        }
        lines.push(line);
    }
    lines
}

/// Hex runs at least this long are digests (a 64-hex scope in a queue file
/// name); they are what gives way when a piece is wider than any line.
const DIGEST: usize = 24;
/// The hex digits of a digest kept when it is shortened (as `git` does).
const DIGEST_KEPT: usize = 16;

/// `piece` as it fits `room` columns: unchanged when it does; else each long
/// hex run (a digest) shortened to its first 16 digits and `…`, so a file
/// name like `queue-<64 hex>.db` stays one readable piece instead of running
/// past the terminal's edge (`--json` has it whole). Still too wide, it
/// overflows: no word is cut.
fn abbreviated(piece: &str, room: usize) -> std::borrow::Cow<'_, str> {
    if width(piece) <= room {
        return piece.into();
    }
    let mut out = String::new();
    let mut run = String::new();
    let flush = |run: &mut String, out: &mut String| {
        if run.len() >= DIGEST {
            out.push_str(&run[..DIGEST_KEPT]);
            out.push('…');
        } else {
            out.push_str(run);
        }
        run.clear();
    };
    for c in piece.chars() {
        if c.is_ascii_hexdigit() {
            run.push(c);
        } else {
            flush(&mut run, &mut out);
            out.push(c);
        }
    }
    flush(&mut run, &mut out);
    out.into()
}

/// [`wrap`] with each line ended by a newline: a block of running text.
pub fn block(text: &str, max: usize, first: &str, rest: &str) -> String {
    wrap(text, max, first, rest)
        .into_iter()
        .map(|l| l + "\n")
        .collect()
}

/// The narrowest width `text` folds into without overflowing (its widest
/// piece, with the indent a path continuation takes).
fn min_width(text: &str) -> usize {
    text.split('\n')
        .flat_map(pieces)
        .enumerate()
        .map(|(i, p)| width(p.text) + if i > 0 && !p.after_space { 2 } else { 0 })
        .max()
        .unwrap_or(0)
}

/// The width of `text` unfolded: its widest explicit line.
fn natural_width(text: &str) -> usize {
    text.split('\n').map(width).max().unwrap_or(0)
}

/// How a cell looks; the layout measures the text alone.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Look {
    pub fg: Option<Color>,
    pub bold: bool,
    pub dim: bool,
}

/// A cell: text, look, and whether it may be folded at all (statuses never).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Cell {
    pub text: String,
    pub look: Look,
    pub whole: bool,
}

impl Cell {
    pub fn new(text: impl Into<String>) -> Cell {
        Cell {
            text: text.into(),
            ..Cell::default()
        }
    }
    /// A cell never folded (a status: `✗ mismatch`).
    pub fn whole(text: impl Into<String>, look: Look) -> Cell {
        Cell {
            text: text.into(),
            look,
            whole: true,
        }
    }
    fn min(&self) -> usize {
        if self.whole {
            natural_width(&self.text)
        } else {
            min_width(&self.text)
        }
    }
    fn folded(&self, w: usize) -> String {
        if self.whole {
            self.text.clone()
        } else {
            wrap(&self.text, w, "", "").join("\n")
        }
    }
    fn painted(&self, text: &str, colour: bool) -> String {
        if !colour {
            return text.to_string();
        }
        let mut s = match self.look.fg {
            Some(Color::Green) => text.green().to_string(),
            Some(Color::Red) => text.red().to_string(),
            Some(Color::Yellow) => text.yellow().to_string(),
            _ => text.to_string(),
        };
        if self.look.bold {
            s = s.bold().to_string();
        }
        if self.look.dim {
            s = s.dimmed().to_string();
        }
        s
    }
    fn comfy(&self, text: String) -> comfy_table::Cell {
        let mut c = comfy_table::Cell::new(text);
        if let Some(fg) = self.look.fg {
            c = c.fg(fg);
        }
        if self.look.bold {
            c = c.add_attribute(Attribute::Bold);
        }
        if self.look.dim {
            c = c.add_attribute(Attribute::Dim);
        }
        c
    }
}

/// Rows under a header; columns from `right_from` on are right-aligned
/// (numbers).
#[derive(Debug, Clone, Default)]
pub struct Grid {
    pub header: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
    pub right_from: Option<usize>,
}

/// Borders and padding of a table of `n` columns (`│ a ┆ b │`).
fn overhead(n: usize) -> usize {
    3 * n + 1
}

impl Grid {
    pub fn new(header: &[&str]) -> Grid {
        Grid {
            header: header.iter().map(|h| h.to_string()).collect(),
            ..Grid::default()
        }
    }

    pub fn row(&mut self, cells: Vec<Cell>) {
        self.rows.push(cells);
    }

    fn column_widths(&self, f: impl Fn(&Cell) -> usize) -> Vec<usize> {
        let mut w: Vec<usize> = self.header.iter().map(|h| min_width(h)).collect();
        for row in &self.rows {
            for (i, c) in row.iter().enumerate() {
                if let Some(x) = w.get_mut(i) {
                    *x = (*x).max(f(c));
                }
            }
        }
        w
    }

    /// Text width of each column at `max` columns in all, or `None` when the
    /// widest pieces alone do not fit. Room beyond the minimum is shared out
    /// evenly, no column getting more than its unfolded width.
    fn widths(&self, max: Option<usize>) -> Option<Vec<usize>> {
        let natural = self.column_widths(|c| natural_width(&c.text));
        let natural: Vec<usize> = natural
            .iter()
            .zip(&self.header)
            .map(|(w, h)| (*w).max(natural_width(h)))
            .collect();
        let Some(max) = max else {
            return Some(natural);
        };
        let room = max.checked_sub(overhead(self.header.len()))?;
        if natural.iter().sum::<usize>() <= room {
            return Some(natural);
        }
        let mut widths = self.column_widths(Cell::min);
        let mut spare = room.checked_sub(widths.iter().sum())?;
        let mut order: Vec<usize> = (0..widths.len()).collect();
        order.sort_by_key(|&i| natural[i] - widths[i]);
        for (k, &i) in order.iter().enumerate() {
            let share = spare / (order.len() - k);
            let give = share.min(natural[i] - widths[i]);
            widths[i] += give;
            spare -= give;
        }
        Some(widths)
    }

    /// The grid as a table of at most `style.width` columns, or `None` when
    /// it would have to split a word.
    pub fn table(&self, style: &Style) -> Option<String> {
        let widths = self.widths(style.width.map(usize::from))?;
        let mut t = Table::new();
        t.force_no_tty()
            .load_style(comfy_table::presets::UTF8_FULL_CONDENSED)
            .set_content_arrangement(ContentArrangement::Disabled)
            .style_text_only();
        if style.colour {
            t.enforce_styling();
        }
        t.set_header(
            self.header
                .iter()
                .zip(&widths)
                .map(|(h, w)| wrap(h, *w, "", "").join("\n")),
        );
        for row in &self.rows {
            t.add_row(row.iter().zip(&widths).map(|(c, w)| c.comfy(c.folded(*w))));
        }
        if let Some(first) = self.right_from {
            for c in t.column_iter_mut().skip(first) {
                c.set_cell_alignment(CellAlignment::Right);
            }
        }
        Some(t.to_string() + "\n")
    }

    /// The grid as blocks: each row's first cell, then `  Header: value` for
    /// the others, values wrapped with a hanging indent.
    pub fn stacked(&self, style: &Style) -> String {
        let max = style.text_width();
        let mut out = String::new();
        for row in &self.rows {
            let mut cells = row.iter();
            if let Some(title) = cells.next() {
                for line in wrap(&title.text, max, "", "  ") {
                    if style.colour {
                        out.push_str(&line.bold().to_string());
                    } else {
                        out.push_str(&line);
                    }
                    out.push('\n');
                }
            }
            for (h, c) in self.header.iter().skip(1).zip(cells) {
                let h = h.split_whitespace().collect::<Vec<_>>().join(" ");
                let label = format!("  {h}: ");
                let lines = wrap(&c.text, max, &label, "    ");
                for (i, line) in lines.iter().enumerate() {
                    let (head, value) = if i == 0 {
                        line.split_at(label.len())
                    } else {
                        ("", line.as_str())
                    };
                    out.push_str(head);
                    out.push_str(&c.painted(value, style.colour));
                    out.push('\n');
                }
            }
        }
        out
    }

    /// Rows and columns swapped: the first column's cells become the header
    /// (after the first header), the other headers the first column. Few
    /// rows of many columns fit a narrow terminal better so.
    pub fn transposed(&self) -> Grid {
        let mut header = vec![self.header.first().cloned().unwrap_or_default()];
        header.extend(
            self.rows
                .iter()
                .map(|r| r.first().map(|c| c.text.clone()).unwrap_or_default()),
        );
        let rows = (1..self.header.len())
            .map(|i| {
                let mut row = vec![Cell::new(self.header[i].clone())];
                row.extend(
                    self.rows
                        .iter()
                        .map(|r| r.get(i).cloned().unwrap_or_default()),
                );
                row
            })
            .collect();
        Grid {
            header,
            rows,
            right_from: None,
        }
    }

    /// A table when one fits the width without splitting a word, else the
    /// stacked blocks.
    pub fn fit(&self, style: &Style) -> String {
        self.table(style).unwrap_or_else(|| self.stacked(style))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn style(w: u16) -> Style {
        Style {
            width: Some(w),
            ..Style::plain()
        }
    }

    #[test]
    fn a_digest_too_wide_for_any_line_is_shortened_not_split() {
        let name = format!("queues/queue-{}.db", "de99f624".repeat(8));
        let lines = wrap(&name, 40, "", "  ");
        assert_eq!(lines, ["queues/", "    queue-de99f624de99f624….db"]);
        assert!(lines.iter().all(|l| width(l) <= 40));
        // It fits: left whole.
        let wide = wrap(&name, 120, "", "  ");
        assert_eq!(wide, [name]);
    }

    #[test]
    fn paths_break_after_separators_words_at_spaces_and_nothing_else() {
        let p: Vec<&str> = pieces("https://s.test|r@example.com|team-a /a/b.db x")
            .iter()
            .map(|p| p.text)
            .collect();
        assert_eq!(
            p,
            [
                "https://s.test|",
                "r@example.com|",
                "team-a",
                "/a/",
                "b.db",
                "x"
            ]
        );
        let w = wrap("/tmp/spec-kitty-pr-1187/.venv/bin/python3", 24, "", "");
        assert_eq!(w, ["/tmp/spec-kitty-pr-1187/", "  .venv/bin/python3"]);
        let w = wrap("Deleted from legacy", 8, "", "");
        assert_eq!(w, ["Deleted", "from", "legacy"]);
        let w = wrap("aaa bbb ccc ddd eee", 10, "  ", "    ");
        assert_eq!(w, ["  aaa bbb", "    ccc", "    ddd", "    eee"]);
        // A piece wider than the line overflows whole.
        assert_eq!(
            wrap("x body_upload_failure_log", 8, "", ""),
            ["x", "body_upload_failure_log"]
        );
        assert_eq!(min_width("queues/queue-b6bcf219b87329de.db"), 27);
        assert_eq!(min_width("Deleted from legacy"), 7);
    }

    fn grid() -> Grid {
        let mut g = Grid::new(&["Table", "Deleted from legacy", "Status"]);
        g.row(vec![
            Cell::new("body_upload_failure_log"),
            Cell::new("12"),
            Cell::whole("✗ mismatch", Look::default()),
        ]);
        g.right_from = Some(1);
        g
    }

    #[test]
    fn a_grid_shrinks_at_spaces_then_stacks_rather_than_split_a_word() {
        let wide = grid().table(&style(120)).unwrap();
        assert!(wide.contains("Deleted from legacy"), "{wide}");
        let narrow = grid().table(&style(52)).unwrap();
        for line in narrow.lines() {
            assert!(width(line) <= 52, "{narrow}");
        }
        assert!(narrow.contains("body_upload_failure_log"), "{narrow}");
        assert!(narrow.contains("✗ mismatch"), "{narrow}");
        assert!(grid().table(&style(40)).is_none());
        let t = grid().transposed();
        assert_eq!(t.header, ["Table", "body_upload_failure_log"]);
        assert_eq!(t.rows[0][0].text, "Deleted from legacy");
        assert_eq!(t.rows[0][1].text, "12");
        assert_eq!(
            grid().fit(&style(40)),
            "body_upload_failure_log\n  Deleted from legacy: 12\n  Status: ✗ mismatch\n"
        );
    }
}
