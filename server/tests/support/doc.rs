//! Reading docs/PROTOCOL.md for the doc-conformance tests
//! (protocol_doc.rs, protocol_doc_text.rs): its sections, tables, code
//! spans and example lines.

use std::path::Path;

pub fn doc() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/PROTOCOL.md");
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// How many `#` start a heading line; 0 for any other line.
pub fn heading_level(line: &str) -> usize {
    let hashes = line.bytes().take_while(|b| *b == b'#').count();
    if hashes > 0 && line[hashes..].starts_with(' ') {
        hashes
    } else {
        0
    }
}

/// The lines of `text` outside fenced code blocks, with their byte offsets.
pub fn prose_lines(text: &str) -> Vec<(usize, &str)> {
    let mut lines = Vec::new();
    let mut fenced = false;
    let mut at = 0;
    for line in text.split_inclusive('\n') {
        if line.starts_with("```") {
            fenced = !fenced;
        } else if !fenced {
            lines.push((at, line.trim_end_matches('\n')));
        }
        at += line.len();
    }
    lines
}

/// The body of the section whose heading starts with `title` (`"## 12."`,
/// `"### 6.3"`, `"### CHUNKS"`), up to the next heading of the same or a
/// higher level.
pub fn section<'a>(doc: &'a str, title: &str) -> &'a str {
    let level = heading_level(title);
    assert!(level > 0, "{title:?} is not a heading");
    let lines = prose_lines(doc);
    let start = lines
        .iter()
        .position(|(_, line)| heading_level(line) == level && line.starts_with(title))
        .unwrap_or_else(|| panic!("PROTOCOL.md has no section {title:?}"));
    let body = lines[start].0 + lines[start].1.len();
    let end = lines[start + 1..]
        .iter()
        .find(|(_, line)| (1..=level).contains(&heading_level(line)))
        .map_or(doc.len(), |(at, _)| *at);
    &doc[body..end]
}

/// The cells of one table row, trimmed; `\|` is a `|` inside a cell.
pub fn cells(row: &str) -> Vec<String> {
    let inner = row.trim().trim_start_matches('|');
    let inner = inner.strip_suffix('|').unwrap_or(inner);
    let mut cells = vec![String::new()];
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => {
                cells.last_mut().unwrap().push('|');
                chars.next();
            }
            '|' => cells.push(String::new()),
            c => cells.last_mut().unwrap().push(c),
        }
    }
    cells.iter().map(|c| c.trim().to_owned()).collect()
}

/// The body rows of the first table in `text` whose first header cell is
/// `header`.
pub fn table(text: &str, header: &str) -> Vec<Vec<String>> {
    let lines = prose_lines(text);
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i].1;
        if line.starts_with('|') && cells(line)[0] == header {
            let rows: Vec<Vec<String>> = lines[i + 2..]
                .iter()
                .map(|(_, line)| *line)
                .take_while(|line| line.starts_with('|'))
                .map(cells)
                .collect();
            assert!(!rows.is_empty(), "the {header:?} table is empty");
            return rows;
        }
        i += 1;
    }
    panic!("no table with the header {header:?} in:\n{text}");
}

/// The text of the code spans in `cell`, in order.
pub fn code_spans(cell: &str) -> Vec<&str> {
    cell.split('`').skip(1).step_by(2).collect()
}

pub fn first_code_span(cell: &str) -> &str {
    code_spans(cell)
        .first()
        .copied()
        .unwrap_or_else(|| panic!("no code span in the cell {cell:?}"))
}

/// A string spelled out the way the §6.3 table does: code spans joined by
/// ` + `, each possibly repeated (`` `é`×125 ``), optionally followed by its
/// length (`(254 bytes)`), which is then checked too.
pub fn spelled(cell: &str) -> String {
    let (terms, stated_len) = match cell.strip_suffix(" bytes)") {
        Some(rest) => {
            let open = rest.rfind(" (").expect("a length in parentheses");
            let len: usize = rest[open + 2..].parse().expect("a length in bytes");
            (&rest[..open], Some(len))
        }
        None => (cell, None),
    };
    let mut out = String::new();
    for term in terms.split(" + ") {
        let term = term.trim();
        let inner = term
            .strip_prefix('`')
            .unwrap_or_else(|| panic!("{term:?} in {cell:?} is not a code span"));
        let close = inner.find('`').expect("a closing backtick");
        let (text, rest) = (&inner[..close], &inner[close + 1..]);
        let times = match rest.strip_prefix('×') {
            Some(n) => n.parse().unwrap_or_else(|_| panic!("a count in {term:?}")),
            None if rest.is_empty() => 1,
            None => panic!("unexpected {rest:?} in {cell:?}"),
        };
        out.push_str(&text.repeat(times));
    }
    if let Some(len) = stated_len {
        assert_eq!(out.len(), len, "the byte count stated in {cell:?}");
    }
    out
}

/// Lines of the document's examples: `(block number, line)` for every
/// `C: `/`S: ` line of a fenced block, with `<TAB>` made a real tab.
pub fn example_lines(doc: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut block = 0;
    let mut fenced = false;
    for line in doc.lines() {
        if line.starts_with("```") {
            fenced = !fenced;
            block += 1;
        } else if fenced && (line.starts_with("C: ") || line.starts_with("S: ")) {
            out.push((block, line.replace("<TAB>", "\t")));
        }
    }
    out
}
